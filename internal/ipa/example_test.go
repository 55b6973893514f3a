package ipa_test

import (
	"context"
	"fmt"
	"os"

	"github.com/ripcordhq/ripcord/internal/ipa"
)

// ExampleResign builds a rollback IPA: version 2.16.1 (build 217) of the
// last good release, signed with the distribution identity and a refreshed
// profile for the app. Extensions keep their embedded profiles.
func ExampleResign() {
	ctx := context.Background()
	p12, _ := os.ReadFile("dist.p12")
	key, err := ipa.LoadIdentity(p12, os.Getenv("P12_PASSWORD"))
	if err != nil {
		fmt.Println(err) // signingkey.ErrWrongPassword for a wrong password
		return
	}
	profile, _ := os.ReadFile("AppStore.mobileprovision")
	report, err := ipa.Resign(ctx, "good-2.15.3.ipa", "rollback-2.16.1.ipa", ipa.ResignOptions{
		Version: "2.16.1", Build: "217", Identity: key,
		Profiles: map[string][]byte{"com.example.app": profile},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range report.Findings {
		fmt.Println(f.Severity, f.Code, f.Message)
	}
	if _, err := ipa.Verify(ctx, "rollback-2.16.1.ipa", ipa.VerifyOptions{}); err != nil {
		fmt.Println(err)
	}
}

// ExampleCommandSigner signs with a key outside Ripcord: the command gets
// the DER signed attributes on stdin and RIPCORD_SIGN_ALG in its
// environment, and prints the signature. openssl does both algorithms.
func ExampleCommandSigner() {
	pemChain, _ := os.ReadFile("dist-chain.pem")
	chain, err := ipa.LoadCertChain(pemChain)
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = ipa.Resign(context.Background(), "in.ipa", "out.ipa", ipa.ResignOptions{
		Version: "2.16.1", Build: "217",
		SignerCommand: "openssl dgst -sha256 -sign /run/keys/dist.pem",
		SignerChain:   chain,
	})
	if err != nil {
		fmt.Println(err)
	}
}
