package infisical_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"secret-init/infisical"
	"secret-init/infisical/infisicaltest"
)

// The provisioning calls against the test server: what each returns, and
// that a repeat after a lost answer (attach, join) ends where one call
// would have.
func TestProvisioningCalls(t *testing.T) {
	s, c := fixture(t)
	cx := ctx(t, 20*time.Second)
	o, err := c.Organization(cx)
	if err != nil || o.ID != s.OrganizationID() {
		t.Fatalf("Organization: %+v, %v", o, err)
	}
	p, err := c.Project(cx)
	if err != nil || p.ID != s.ProjectID() || p.OrgID != o.ID || !slices.Equal(p.Environments, []string{"dev", "staging", "prod"}) {
		t.Fatalf("Project: %+v, %v", p, err)
	}

	found, err := c.FindIdentities(cx, o.ID, "svc")
	if err != nil || len(found) != 0 {
		t.Fatalf("FindIdentities before: %v, %v", found, err)
	}
	id, err := c.CreateIdentity(cx, o.ID, "svc")
	if err != nil || id.ID == "" || id.Name != "svc" {
		t.Fatalf("CreateIdentity: %+v, %v", id, err)
	}
	// More identities than one page, whose names contain "svc": only the
	// exact name is kept, from every page.
	for i := range 120 {
		if _, err := c.CreateIdentity(cx, o.ID, fmt.Sprintf("svc-%03d", i)); err != nil {
			t.Fatal(err)
		}
	}
	twin, _ := c.CreateIdentity(cx, o.ID, "svc")
	found, err = c.FindIdentities(cx, o.ID, "svc")
	if err != nil || len(found) != 2 || found[0].OrgRole != "no-access" {
		t.Fatalf("FindIdentities of a name two identities share: %+v, %v", found, err)
	}
	if !slices.ContainsFunc(found, func(i infisical.Identity) bool { return i.ID == twin.ID }) {
		t.Errorf("the second svc is not found: %+v", found)
	}

	if _, err := c.UniversalAuth(cx, id.ID); !errors.Is(err, infisical.ErrNotFound) {
		t.Fatalf("UniversalAuth before attach: %v, want ErrNotFound", err)
	}
	ua, err := c.AttachUniversalAuth(cx, id.ID, 3600, 86400)
	if err != nil || ua.ClientID == "" || ua.AccessTokenTTL != 3600 {
		t.Fatalf("AttachUniversalAuth: %+v, %v", ua, err)
	}
	again, err := c.AttachUniversalAuth(cx, id.ID, 3600, 86400)
	if err != nil || again != ua {
		t.Errorf("a second attach reads the first: %+v, %v", again, err)
	}

	secret, made, err := c.CreateClientSecret(cx, id.ID, "secret-init provision")
	if err != nil || len(secret) != 64 || made.Prefix != secret[:4] || made.Description != "secret-init provision" {
		t.Fatalf("CreateClientSecret: %+v, %v", made, err)
	}
	list, err := c.ClientSecrets(cx, id.ID)
	if err != nil || len(list) != 1 || list[0].ID != made.ID || list[0].Created.IsZero() {
		t.Fatalf("ClientSecrets: %+v, %v", list, err)
	}

	if _, err := c.IdentityRoles(cx, id.ID); !errors.Is(err, infisical.ErrNotFound) {
		t.Fatalf("IdentityRoles before joining: %v, want ErrNotFound", err)
	}
	if err := c.AddIdentityToProject(cx, id.ID, "member"); err != nil {
		t.Fatal(err)
	}
	if err := c.AddIdentityToProject(cx, id.ID, "viewer"); err != nil {
		t.Fatalf("joining twice changes the role: %v", err)
	}
	roles, err := c.IdentityRoles(cx, id.ID)
	if err != nil || len(roles) != 1 || roles[0].Slug != "viewer" {
		t.Fatalf("IdentityRoles: %+v, %v", roles, err)
	}

	// The new secret logs in, and the identity reads but cannot write.
	rt := newClient(t, s)
	if err := rt.LoginUniversal(cx, ua.ClientID, secret); err != nil {
		t.Fatalf("login with the new secret: %v", err)
	}
	if _, err := rt.ListSecrets(cx, "/shared/db"); err != nil {
		t.Errorf("the viewer lists: %v", err)
	}
	err = rt.CreateSecret(cx, infisical.Secret{Path: "/shared/db", Key: "NEW", Value: "x"})
	if err == nil || !strings.Contains(err.Error(), "status 403") || !strings.Contains(err.Error(), "You are not allowed to create on secrets") {
		t.Errorf("the viewer writes: %v", err)
	}
	// Nor administer identities, and says what it lacks.
	_, err = rt.FindIdentities(cx, o.ID, "svc")
	if err == nil || !strings.Contains(err.Error(), "You are not allowed to read on identity") {
		t.Errorf("the viewer lists identities: %v", err)
	}

	if err := c.RevokeClientSecret(cx, id.ID, made.ID); err != nil {
		t.Fatal(err)
	}
	if err := newClient(t, s).LoginUniversal(cx, ua.ClientID, secret); err == nil {
		t.Error("a revoked secret still logs in")
	}
	if list, _ := c.ClientSecrets(cx, id.ID); len(list) != 0 {
		t.Errorf("a revoked secret is listed: %+v", list)
	}
}

// TestNotMemberSays: a 403 whose sentence is Infisical's error name shows
// it, before the generic message.
func TestNotMemberSays(t *testing.T) {
	s := infisicaltest.NewServer()
	t.Cleanup(s.Close)
	s.AddToken("outsider-token", infisicaltest.NotMember())
	c := newClient(t, s)
	c.SetToken("outsider-token")
	_, err := c.Project(ctx(t, 10*time.Second))
	want := "status 403 Forbidden [reqId req-"
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "]: You are not member of this project; You are not allowed to access this resource") {
		t.Errorf("got %v", err)
	}
}

// TestNewClientSecretScrubbed: a client secret is scrubbed from the
// client's errors from the moment its answer arrives, the answer's own
// refusal included.
func TestNewClientSecretScrubbed(t *testing.T) {
	s, c := fixture(t)
	cx := ctx(t, 10*time.Second)
	o, _ := c.Organization(cx)
	id, _ := c.CreateIdentity(cx, o.ID, "svc")
	if _, err := c.AttachUniversalAuth(cx, id.ID, 60, 60); err != nil {
		t.Fatal(err)
	}
	secret, _, err := c.CreateClientSecret(cx, id.ID, "x")
	if err != nil {
		t.Fatal(err)
	}
	// A server that echoes the secret in an error (a proxy, a bug) is scrubbed.
	s.RawAnswer(infisicaltest.RawAnswer{Status: 400, ContentType: "application/json", Body: []byte(`{"statusCode":400,"error":"BadRequest","message":"bad ` + secret + `"}`)})
	_, err = c.ListSecrets(cx, "/shared/db")
	if err == nil || strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), "[redacted]") {
		t.Errorf("the secret is not scrubbed: %v", err)
	}
}
