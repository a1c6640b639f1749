package serving

import _ "embed"

// openAPIDoc is the OpenAPI 3 description of the API served at /openapi.json;
// TestOpenAPI checks it against the real routes and payload types.
//
//go:embed openapi.json
var openAPIDoc []byte
