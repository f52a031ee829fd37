#!/usr/bin/env bash
# Writes the TLS fixtures of the XoT tests into engine/tests/tls/ (committed; run again
# only to replace them): a CA, a server certificate for 127.0.0.1, ::1 and
# primary.shoal.test signed by it, a client CA with a client certificate
# (secondary.shoal.test), and an unrelated CA that must not be trusted. ECDSA P-256
# keys, valid for 100 years.
set -euo pipefail
out="$(cd "$(dirname "$0")/.." && pwd)/engine/tests/tls"
mkdir -p "$out"
cd "$out"
days=36500
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
ca() { # name subject
  key "$1.key"
  openssl req -x509 -new -key "$1.key" -sha256 -days $days -subj "/CN=$2" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign -out "$1.pem"
}
leaf() { # name ca subject san eku
  key "$1.key"
  openssl req -new -key "$1.key" -subj "/CN=$3" -out "$1.csr"
  printf 'subjectAltName=%s\nextendedKeyUsage=%s\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n' "$4" "$5" >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial -days $days -sha256 \
    -extfile "$1.ext" -out "$1.pem" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}
ca ca "Shoal test CA"
ca client-ca "Shoal test client CA"
ca other-ca "Some other CA"
leaf server ca primary.shoal.test "DNS:primary.shoal.test,IP:127.0.0.1,IP:::1" serverAuth
leaf client client-ca secondary.shoal.test "DNS:secondary.shoal.test" clientAuth
rm -f ./*.srl ca.key other-ca.key client-ca.key
chmod 644 ./*.key
# The pin of the server's key (base64 SHA-256 of its SubjectPublicKeyInfo).
openssl x509 -in server.pem -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64 >server.pin
ls -l "$out"
