package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/sesame-idp/sesame/sdk"
)

// A device app logs the user in once, keeps the session in a file, and
// gets a fresh id_token whenever it needs one.
func ExampleNew() {
	ctx := context.Background()
	dir, _ := os.UserConfigDir()
	client, err := sdk.New("https://acme.example.com", "my-app-client-id",
		sdk.WithDevice(sdk.Device{Fingerprint: "4f1c9e0a-device-id", OSVersion: "windows10.1.1", Agent: "my-app/1.0"}),
		sdk.WithTokenStore(sdk.FileTokenStore(filepath.Join(dir, "my-app", "session"))),
	)
	if err != nil {
		log.Fatal(err)
	}
	res, err := client.Login(ctx, "alice", "the password")
	switch {
	case errors.Is(err, sdk.ErrBadCredentials):
		log.Fatal("wrong user name or password")
	case err != nil:
		log.Fatal(err)
	case res.Status == sdk.LoginPasswordWarn:
		// The password expires soon; go on with it for now.
		if _, err := client.SkipPasswordChange(ctx, res.StateToken); err != nil {
			log.Fatal(err)
		}
	}
	// Later, even after a restart:
	tok, err := client.ExchangeSessionToken(ctx)
	if errors.Is(err, sdk.ErrSessionInvalid) || errors.Is(err, sdk.ErrNotLoggedIn) {
		log.Fatal("please log in again")
	}
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tok.IDToken)
}

// ExchangeSessionToken saves a rotated session token before it returns.
// Here a stand-in server rotates "token-1" into "token-2".
func ExampleClient_ExchangeSessionToken() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-session-token") != "token-1" {
			w.WriteHeader(400)
			fmt.Fprint(w, `{"error_code":"SDK.COMMON.1006","error_msg":"session_token parameter error"}`)
			return
		}
		fmt.Fprint(w, `{"session_token":"token-2","expire":604800,"id_token":"header.payload.signature"}`)
	}))
	defer srv.Close()

	ctx := context.Background()
	store := &sdk.MemoryTokenStore{}
	_ = store.Save(ctx, "token-1")
	client, _ := sdk.New(srv.URL, "my-app", sdk.WithDevice(sdk.Device{Fingerprint: "device-1"}), sdk.WithTokenStore(store))

	res, err := client.ExchangeSessionToken(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	stored, _ := store.Load(ctx)
	fmt.Println("id_token:", res.IDToken)
	fmt.Println("rotated:", res.Rotated)
	fmt.Println("stored:", stored)
	// Output:
	// id_token: header.payload.signature
	// rotated: true
	// stored: token-2
}

// The sentinel errors match the codes of both dialects.
func ExampleError() {
	eiam := &sdk.Error{Code: "SDK.LOGIN.1010", Message: "Invalid user name or password", HTTPStatus: 400}
	ciam := &sdk.Error{Code: "IDAAS.SDK.LOGIN.0001", Message: "Invalid user name or password", HTTPStatus: 400}
	expired := &sdk.Error{Code: "SDK.COMMON.1005", Message: "session_token has expired", HTTPStatus: 400}
	fmt.Println(errors.Is(eiam, sdk.ErrBadCredentials), errors.Is(ciam, sdk.ErrBadCredentials))
	fmt.Println(errors.Is(expired, sdk.ErrSessionInvalid), errors.Is(expired, sdk.ErrSessionExpired))
	fmt.Println(ciam)
	// Output:
	// true true
	// true true
	// sesame: IDAAS.SDK.LOGIN.0001: Invalid user name or password (HTTP 400)
}

func ExampleFileTokenStore() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "sesame-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "session")

	_ = sdk.FileTokenStore(path).Save(ctx, "session-token-1")
	// Another process, or the same app after a restart:
	tok, _ := sdk.FileTokenStore(path).Load(ctx)
	fi, _ := os.Stat(path)
	fmt.Println(tok, fi.Mode().Perm())
	// Output: session-token-1 -rw-------
}

func ExampleMemoryTokenStore() {
	ctx := context.Background()
	var store sdk.MemoryTokenStore
	_ = store.Save(ctx, "session-token-1")
	tok, _ := store.Load(ctx)
	fmt.Println(tok)
	_ = store.Clear(ctx)
	tok, _ = store.Load(ctx)
	fmt.Printf("%q\n", tok)
	// Output:
	// session-token-1
	// ""
}

// A back end verifies a user's single sign-on ticket handed over by
// another application.
func ExampleTenantClient_VerifySSOTicket() {
	ctx := context.Background()
	tenant, err := sdk.NewTenantClient("https://acme.example.com", "backend-client-id", os.Getenv("SESAME_CLIENT_SECRET"))
	if err != nil {
		log.Fatal(err)
	}
	device := sdk.Device{Fingerprint: "4f1c9e0a-device-id", OSVersion: "windows10.1.1", IP: "192.0.2.10"}
	user, err := tenant.VerifySSOTicket(ctx, "ticket-from-the-other-app", device)
	if errors.Is(err, sdk.ErrSSOTicketInvalid) {
		log.Fatal("the ticket was used or has expired")
	}
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(user.UserName, user.Name)
}

// An API checks the id_token an app sends it.
func ExampleVerifier_Verify() {
	verifier, err := sdk.NewVerifier("https://acme.example.com/api/v1/oauth2", "my-app-client-id")
	if err != nil {
		log.Fatal(err)
	}
	handler := func(w http.ResponseWriter, r *http.Request) {
		raw := r.Header.Get("Authorization")
		if len(raw) > 7 && raw[:7] == "Bearer " {
			raw = raw[7:]
		}
		claims, err := verifier.Verify(r.Context(), raw)
		if errors.Is(err, sdk.ErrInvalidIDToken) {
			http.Error(w, "invalid token", http.StatusUnauthorized)
			return
		}
		if err != nil { // the key set could not be fetched
			http.Error(w, "try again later", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(w, "hello, %s\n", claims.Name)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello", handler)
	log.Fatal(http.ListenAndServe(":8080", mux))
}
