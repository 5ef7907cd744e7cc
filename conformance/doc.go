// Package conformance holds what needs the official Infisical go-sdk: the
// test that holds our client and test server to the SDK's wire protocol,
// and cmd/sdkfetch, which times the SDK for the bench. It is a module of
// its own so that the SDK and the cloud SDKs it pulls in (about 800 MB of
// modules) stay out of secret-init's go.mod: the product and `make test`
// never download them; `make conformance` and `make bench` do.
package conformance
