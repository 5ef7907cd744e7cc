package conformance_test

// What go-sdk can observe of the identities provisioning makes: it logs in
// with a client secret our client made, gets tokens of the lifetime the
// universal auth was given, reads as a viewer and is refused a write, and
// can no longer log in once the secret is revoked.

import (
	"errors"
	"testing"

	sdk "github.com/infisical/go-sdk"
)

func TestConformanceProvisionedIdentity(t *testing.T) {
	s, _, ours := pair(t)
	ctx := cctx(t)
	org, err := ours.Organization(ctx)
	if err != nil {
		t.Fatal(err)
	}
	id, err := ours.CreateIdentity(ctx, org.ID, "runtime")
	if err != nil {
		t.Fatal(err)
	}
	ua, err := ours.AttachUniversalAuth(ctx, id.ID, 3600, 86400)
	if err != nil {
		t.Fatal(err)
	}
	secret, made, err := ours.CreateClientSecret(ctx, id.ID, "secret-init provision")
	if err != nil {
		t.Fatal(err)
	}
	if err := ours.AddIdentityToProject(ctx, id.ID, "viewer"); err != nil {
		t.Fatal(err)
	}

	theirs := sdkClient(t, s)
	cred, err := theirs.Auth().UniversalAuthLogin(ua.ClientID, secret)
	if err != nil {
		t.Fatalf("go-sdk cannot log in with the secret we made: %v", err)
	}
	if cred.ExpiresIn != 3600 || cred.AccessTokenMaxTTL != 86400 {
		t.Errorf("token lifetime %d, max %d; want the universal auth's 3600 and 86400", cred.ExpiresIn, cred.AccessTokenMaxTTL)
	}
	list, err := theirs.Secrets().List(sdk.ListSecretsOptions{ProjectID: s.ProjectID(), Environment: "dev", SecretPath: "/shared/db"})
	if err != nil || len(list) == 0 {
		t.Fatalf("the viewer cannot read: %v (%d secrets)", err, len(list))
	}
	_, err = theirs.Secrets().Create(sdk.CreateSecretOptions{ProjectID: s.ProjectID(), Environment: "dev", SecretPath: "/shared/db", SecretKey: "NEW", SecretValue: "x"})
	if !errors.Is(theirErr(t, err), errStatus(403)) {
		t.Errorf("the viewer writes: %v, want 403", err)
	}

	if err := ours.RevokeClientSecret(ctx, id.ID, made.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := sdkClient(t, s).Auth().UniversalAuthLogin(ua.ClientID, secret); !errors.Is(theirErr(t, err), errStatus(401)) {
		t.Errorf("go-sdk logs in with a revoked secret: %v, want 401", err)
	}
}
