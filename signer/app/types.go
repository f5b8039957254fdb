package app

import "time"

// Routes of the app API.
const (
	PathActivationStart    = "/app/v1/activation/start"
	PathActivationComplete = "/app/v1/activation/complete"
	PathPending            = "/app/v1/pending"
	PathApprove            = "/app/v1/approve"
	PathScan               = "/app/v1/scan"
	PathDevices            = "/app/v1/devices"
	PathDocument           = "/app/v1/document"
	// PathDevices + "/" + id + "/revoke" revokes a device.
)

// The activation methods (ActivationStart.Method): what proves
// possession besides the password.
const (
	// MethodCodeCard answers a code-card entry to type in (CardSerial,
	// KeyNumber), completed with ActivationComplete.CardCode. The default.
	MethodCodeCard = "codecard"
	// MethodPassport answers the 8 bytes the chip must sign
	// (DocumentChallenge), completed with ActivationComplete.Document. It
	// is remote reactivation: completing it revokes every other device of
	// the user.
	MethodPassport = "passport"
)

// ActivationStart is the body of activation/start.
type ActivationStart struct {
	UserID string `json:"userId"`
	// Method is what proves possession besides the password: "codecard"
	// (the default) or "passport" (remote reactivation, for a user
	// without the card at hand: every other device is revoked).
	Method string `json:"method,omitempty"`
}

// ActivationChallenge answers activation/start: the code-card entry the
// user must type in.
type ActivationChallenge struct {
	ActivationID string `json:"activationId"`
	// CardSerial and KeyNumber are the code card's entry to type in.
	CardSerial string `json:"cardSerial,omitempty"`
	KeyNumber  string `json:"keyNumber,omitempty"`
	// DocumentChallenge is, for the passport method, the 8 bytes (hex)
	// the chip must sign.
	DocumentChallenge string    `json:"documentChallenge,omitempty"`
	ExpiresAt         time.Time `json:"expiresAt"`
}

// Key storage and biometry a device declares at activation.
const (
	KeySoftware = "software"
	KeyHardware = "hardware" // Secure Enclave, StrongBox, a TEE

	BiometryNone        = "none"
	BiometryFingerprint = "fingerprint"
	BiometryFace        = "face"
)

// ActivationComplete is the body of activation/complete.
type ActivationComplete struct {
	ActivationID string `json:"activationId"`
	Password     string `json:"password"`
	// CardCode is the code card's code, or Document the chip's files for
	// the passport method.
	CardCode string         `json:"cardCode,omitempty"`
	Document *DocumentFiles `json:"document,omitempty"`
	// PublicKey is the device key's DER SubjectPublicKeyInfo, base64.
	PublicKey string `json:"publicKey"`
	// Proof is the device key's signature over ActivationProof, base64 DER.
	Proof      string `json:"proof"`
	DeviceName string `json:"deviceName"`
	// KeyStorage is where the device keeps its key (default software).
	KeyStorage string `json:"keyStorage,omitempty"`
	// Biometry is what unlocks the key besides the PIN (default none).
	Biometry string `json:"biometry,omitempty"`
	// ReplaceDeviceID names one of the user's devices to revoke.
	ReplaceDeviceID string `json:"replaceDeviceId,omitempty"`
}

// Activated answers activation/complete.
type Activated struct {
	DeviceID string `json:"deviceId"`
	UserID   string `json:"userId"`
	Replaced string `json:"replaced,omitempty"`
}

// Device is one of a user's devices.
type Device struct {
	ID         string     `json:"id"`
	UserID     string     `json:"userId"`
	Name       string     `json:"name"`
	KeyStorage string     `json:"keyStorage"`
	Biometry   string     `json:"biometry"`
	Created    time.Time  `json:"created"`
	LastUsed   *time.Time `json:"lastUsed,omitempty"`
	Revoked    *time.Time `json:"revoked,omitempty"`
	Current    bool       `json:"current,omitempty"` // the device that asked
}

// Devices answers GET /app/v1/devices (and lists the devices of a refused
// activation at the limit).
type Devices struct {
	Devices []Device `json:"devices"`
}

// TooManyDevices is the error answer of an activation at the limit.
type TooManyDevices struct {
	ErrorCode string   `json:"errorCode"` // "tooManyDevices"
	Details   string   `json:"details"`
	Devices   []Device `json:"devices"`
}

// Payment is an order's payment as the app shows it.
type Payment struct {
	AmountMinor string `json:"amountMinor"`
	Currency    string `json:"currency"`
	Payee       string `json:"payee"`
}

// PendingOrder is one order waiting for the user.
type PendingOrder struct {
	OrderRef     string `json:"orderRef"`
	RelyingParty string `json:"relyingParty"`
	Kind         string `json:"kind"` // auth or sign
	// UserVisibleData is base64, as the relying party gave it.
	UserVisibleData string   `json:"userVisibleData,omitempty"`
	Payment         *Payment `json:"payment,omitempty"`
	// DocumentDigest is the hex SHA-256 of a sign order's document.
	DocumentDigest string    `json:"documentDigest,omitempty"`
	Challenge      string    `json:"challenge"`
	ExpiresAt      time.Time `json:"expiresAt"`
	HintCode       string    `json:"hintCode"`
	// DocumentChallenge is, while the order waits for a passport check
	// (hint documentCheckRequired), the 8 bytes (hex) the chip must sign.
	DocumentChallenge string `json:"documentChallenge,omitempty"`
}

// DocumentFiles are a chip's files, base64, and its signature over the
// challenge.
type DocumentFiles struct {
	SOD         string            `json:"sod"`
	DataGroups  map[string]string `json:"dataGroups"`
	AASignature string            `json:"aaSignature"`
}

// Document is the body of /app/v1/document: the chip's files, base64 (EF.SOD;
// DG1, DG15, and DG14 for an EC chip key), and its signature over the
// order's documentChallenge.
type Document struct {
	OrderRef    string            `json:"orderRef"`
	SOD         string            `json:"sod"`
	DataGroups  map[string]string `json:"dataGroups"`
	AASignature string            `json:"aaSignature"`
}

// Pending answers GET /app/v1/pending.
type Pending struct {
	Orders []PendingOrder `json:"orders"`
}

// Approve is the body of /app/v1/approve.
type Approve struct {
	OrderRef         string `json:"orderRef"`
	Challenge        string `json:"challenge"`
	Decision         string `json:"decision"`
	UserVerification string `json:"userVerification"`
	// Signature is over ApprovalMessage, base64 DER.
	Signature string `json:"signature"`
}

// Decided answers /app/v1/approve.
type Decided struct {
	OrderRef string `json:"orderRef"`
	Accepted bool   `json:"accepted"`
	Status   string `json:"status"`
	HintCode string `json:"hintCode,omitempty"`
}

// Scan is the body of /app/v1/scan: the QR code's text, or the
// autoStartToken of a same-device start.
type Scan struct {
	QRData         string `json:"qrData,omitempty"`
	AutoStartToken string `json:"autoStartToken,omitempty"`
}

// Scanned answers /app/v1/scan.
type Scanned struct {
	OrderRef string `json:"orderRef"`
}

// Revoked answers a device's revocation.
type Revoked struct {
	ID      string    `json:"id"`
	Revoked time.Time `json:"revoked"`
}
