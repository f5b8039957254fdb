package audit

// Event names, one per kind of security decision. They are part of the
// records' hashes and what auditors search for: never rename one.
const (
	// Orders.
	OrderStarted   = "order.started"
	OrderExpired   = "order.expired"
	OrderCancelled = "order.cancelled"
	OrderBound     = "order.bound"    // an order without a user was taken by a device's scan
	OrderRejected  = "order.rejected" // the user rejected it in the app

	DeviceActivated = "device.activated"
	DeviceRevoked   = "device.revoked"
	// Factors.
	ChallengeIssued = "challenge.issued"
	FactorAccepted  = "factor.accepted"
	FactorRefused   = "factor.refused"
	UserBlocked     = "user.blocked"
	UserEnrolled    = "user.enrolled" // the user changed their phone or password, on a fresh login
	OTPUsed         = "otp.used"
	OTPBlocked      = "otp.blocked"
	CodeCardIssued  = "codecard.issued"
	CodeCardRevoked = "codecard.revoked"
	SMSSending      = "sms.sending" // an attempt through one adapter begins
	SMSState        = "sms.state"   // an attempt moved on: accepted, delivered, failed, unknown
	// Results.
	AssertionIssued = "assertion.issued"
	SignatureIntent = "signature.intent"
	SignatureMade   = "signature.made"
	SignatureFailed = "signature.failed"
	// Callers refused at the door.
	TLSUnknownCertificate  = "tls.unknown_certificate"
	TLSDisabledCertificate = "tls.disabled_certificate"
	// Officers' changes.
	AdminUserCreated       = "admin.user.created"
	AdminUserDisabled      = "admin.user.disabled"
	AdminUserEnabled       = "admin.user.enabled"
	AdminUserPasswordSet   = "admin.user.password_set"
	AdminUserPhoneSet      = "admin.user.phone_set"
	AdminUserPhoneDeleted  = "admin.user.phone_deleted"
	AdminUserIdentitySet   = "admin.user.identity_set"
	AdminRPCreated         = "admin.rp.created"
	AdminRPDisabled        = "admin.rp.disabled"
	AdminRPEnabled         = "admin.rp.enabled"
	AdminOfficerRegistered = "admin.officer.registered"
	AdminOfficerChanged    = "admin.officer.changed"
	AdminOfficerRemoved    = "admin.officer.removed"
	AdminTokensImported    = "admin.tokens.imported"
	AdminTokenPrefix       = "admin.token." // + the action: assign, unassign, unblock, resync, delete
	AdminCodeCardIssued    = "admin.codecard.issued"
	AdminCodeCardPrinted   = "admin.codecard.printed"
	AdminCodeCardRevoked   = "admin.codecard.revoked"
	AdminPIVEnrolled       = "admin.piv.enrolled"
	AdminPIVRevoked        = "admin.piv.revoked"
)
