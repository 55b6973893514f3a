package ipa

// Exported for the external tests (package ipa_test), which use ipatest;
// ipatest imports this package, so those tests cannot live inside it.
var (
	HasErrors         = hasErrors
	ParseEntitlements = parseEntitlements
)
