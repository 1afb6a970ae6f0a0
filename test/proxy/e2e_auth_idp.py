#!/usr/bin/env python3
"""A stand-in authorization server on 127.0.0.1 for e2e_auth.sh, and a
token and DPoP proof minter. The cluster tests use a real OpenID provider
(Dex); this one exists to make what a provider never issues: tokens signed
with alg none, HMAC over the public key, an unknown key, a rotated key set.

  serve PORT STATE     OIDC discovery (issuer http://127.0.0.1:PORT),
                       /jwks (the keys STATE's "jwks" names, read per request:
                       rotation), /introspect (RFC 7662, client "mcp-proxy" /
                       "s3cret"; STATE's "opaque" maps tokens to answers)
  token [k=v ...]      a JWT: iss, aud, sub, exp_in (s), key (rsa1), kid
                       (= key), alg (RS256), sign (key | none | hs256-pubkey |
                       other:<key>), jkt_of (a DPoP key name: cnf.jkt),
                       claims (JSON merged in)
  dpop k=v ...         a DPoP proof: key (ec256), htm, htu, token, jti, iat_off
Keys are the unit fixtures' (test/fixtures/proxy/auth/keys), test keys only.
"""
import hashlib
import json
import os
import sys
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../fixtures/proxy/auth"))
import gen  # noqa: E402  (b64u, compact, jwk_of, thumbprint, jws, jwks_of)


def kv(argv):
    return dict(a.split("=", 1) for a in argv)


def token(o):
    now = int(time.time())
    claims = {"iss": o["iss"], "aud": o.get("aud", "mcp"), "sub": o.get("sub", "alice"),
              "iat": now, "exp": now + int(o.get("exp_in", "300"))}
    if "jkt_of" in o:
        claims["cnf"] = {"jkt": gen.thumbprint(gen.jwk_of(o["jkt_of"]))}
    claims.update(json.loads(o.get("claims", "{}")))
    key = o.get("key", "rsa1")
    header = {"alg": o.get("alg", "RS256"), "kid": o.get("kid", key), "typ": "JWT"}
    recipe = {"key": key, "sign": o.get("sign", "key")}
    if o.get("sign") == "none":
        header["alg"] = "none"
        h = gen.b64u(gen.compact(header).encode()) + "." + gen.b64u(gen.compact(claims).encode())
        return h + "."
    return gen.jws(recipe, header, claims)


def dpop(o):
    key = o.get("key", "ec256")
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": gen.jwk_of(key)}
    claims = {"jti": o.get("jti", str(uuid.uuid4())), "htm": o.get("htm", "POST"), "htu": o["htu"],
              "iat": int(time.time()) + int(o.get("iat_off", "0"))}
    if "token" in o:
        claims["ath"] = gen.b64u(hashlib.sha256(o["token"].encode()).digest())
    return gen.jws({"key": key}, header, claims)


def serve(port, state_path):
    issuer = f"http://127.0.0.1:{port}"

    class H(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def send(self, code, doc):
            body = json.dumps(doc).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def state(self):
            with open(state_path) as f:
                return json.load(f)

        def do_GET(self):
            if self.path == "/.well-known/openid-configuration":
                self.send(200, {"issuer": issuer, "jwks_uri": issuer + "/jwks",
                                "introspection_endpoint": issuer + "/introspect"})
            elif self.path == "/jwks":
                self.send(200, gen.jwks_of([{"key": k} for k in self.state()["jwks"]]))
            else:
                self.send(404, {})

        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            form = dict(p.split("=", 1) for p in self.rfile.read(n).decode().split("&") if "=" in p)
            if self.path != "/introspect":
                return self.send(404, {})
            import base64
            if self.headers.get("Authorization") != "Basic " + base64.b64encode(b"mcp-proxy:s3cret").decode():
                return self.send(401, {"error": "invalid_client"})
            from urllib.parse import unquote
            self.send(200, self.state().get("opaque", {}).get(unquote(form.get("token", "")), {"active": False}))

    ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()


def main(argv):
    if argv[0] == "serve":
        serve(int(argv[1]), argv[2])
    elif argv[0] == "token":
        print(token(kv(argv[1:])))
    elif argv[0] == "dpop":
        print(dpop(kv(argv[1:])))
    elif argv[0] == "jkt":
        print(gen.thumbprint(gen.jwk_of(argv[1])))


if __name__ == "__main__":
    main(sys.argv[1:])
