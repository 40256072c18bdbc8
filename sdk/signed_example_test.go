package sdk_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"time"

	"github.com/sesame-idp/sesame/sdk"
)

// With WithSignedSession the session token never travels in clear: the
// Client encrypts it, with a timestamp on the server's clock and a fresh
// nonce, to the application's public key. Here a stand-in server plays
// Sesame's part of the signed exchange.
func ExampleWithSignedSession() {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v2/sdk/public-key", func(w http.ResponseWriter, r *http.Request) {
		der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
		fmt.Fprintf(w, `{"public_key":%q}`, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	})
	mux.HandleFunc("GET /api/v2/sdk/server-date", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"timestamp":"%d"}`, time.Now().UnixMilli())
	})
	mux.HandleFunc("POST /api/v2/sdk/session-token/refresh-id-token", func(w http.ResponseWriter, r *http.Request) {
		ct, _ := base64.StdEncoding.DecodeString(r.Header.Get("X-signature"))
		pt, _ := key.Decrypt(nil, ct, &rsa.OAEPOptions{Hash: crypto.SHA256, MGFHash: crypto.SHA256})
		signed, _ := url.ParseQuery(string(pt)) // session_token, timestamp, nonce
		if signed.Get("session_token") != "token-1" {
			w.WriteHeader(400)
			fmt.Fprint(w, `{"error_code":"SDK.COMMON.1004","error_msg":"Signature decryption error"}`)
			return
		}
		fmt.Fprint(w, `{"id_token":"header.payload.signature"}`)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	ctx := context.Background()
	store := &sdk.MemoryTokenStore{}
	_ = store.Save(ctx, "token-1") // as a Login would have
	client, _ := sdk.New(srv.URL, "my-app",
		sdk.WithDevice(sdk.Device{Fingerprint: "device-1"}),
		sdk.WithTokenStore(store),
		sdk.WithSignedSession(),
	)

	res, err := client.ExchangeSessionToken(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("id_token:", res.IDToken)
	fmt.Println("session token:", res.SessionToken, "rotated:", res.Rotated)
	// Output:
	// id_token: header.payload.signature
	// session token: token-1 rotated: false
}
