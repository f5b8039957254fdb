import pskc, sys
def batch():
    p = pskc.PSKC()
    for serial, secret, algo, n, ctr, step in [
        ("SEGL-PSKC-0001", "3132333435363738393031323334353637383930", "hotp", 6, 0, None),
        ("SEGL-PSKC-0002", "3132333435363738393031323334353637383930313233343536373839303132", "hotp", 8, 7, None),
        ("SEGL-PSKC-0003", "31323334353637383930313233343536373839303132333435363738393031323334353637383930313233343536373839303132333435363738393031323334", "totp", 8, None, 30),
    ]:
        k = p.add_key(serial=serial, secret=bytes.fromhex(secret), algorithm="urn:ietf:params:xml:ns:keyprov:pskc:" + algo, response_length=n, response_encoding="DECIMAL")
        if ctr is not None: k.counter = ctr
        if step: k.time_interval = step
    return p
p = batch()
p.encryption.setup_preshared_key(key=bytes.fromhex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"), algorithm="aes256-cbc", key_name="segl-test-transport")
p.mac.setup(algorithm="hmac-sha256")
p.write("pskc-utils-psk-aes256.pskc")
p = batch()
p.encryption.setup_pbkdf2("correct horse battery staple", iterations=20000)
p.write("pskc-utils-pbkdf2.pskc")
