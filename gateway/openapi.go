package gateway

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
)

// generatedOpenAPI is the OpenAPI document generated from the protos by
// `make generate`: the registry's REST API, transcoded by grpc-gateway.
//
//go:embed openapi/chave.swagger.json
var generatedOpenAPI []byte

// oauthOpenAPI, written by hand, describes what the protos cannot: the
// OAuth 2.0 endpoints the gateway serves itself (form bodies, RFC 6749
// error bodies), and the document's info.
//
//go:embed openapi_oauth.json
var oauthOpenAPI []byte

// swagger is the part of an OpenAPI 2.0 document mergeOpenAPI touches; the
// rest of each member is kept as it is.
type swagger struct {
	Swagger             string                     `json:"swagger"`
	Info                json.RawMessage            `json:"info,omitempty"`
	Tags                []openAPITag               `json:"tags,omitempty"`
	Consumes            []string                   `json:"consumes,omitempty"`
	Produces            []string                   `json:"produces,omitempty"`
	Paths               map[string]json.RawMessage `json:"paths"`
	Definitions         map[string]json.RawMessage `json:"definitions,omitempty"`
	SecurityDefinitions map[string]json.RawMessage `json:"securityDefinitions,omitempty"`
}

type openAPITag struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// mergeOpenAPI adds the hand-written supplement to the generated document:
// its info replaces the generated one, its paths, definitions and security
// definitions join (a name in both is an error, never a silent override),
// and the generated tags that no path uses (services without REST
// mappings) are dropped.
func mergeOpenAPI(generated, supplement []byte) ([]byte, error) {
	var doc, sup swagger
	if err := json.Unmarshal(generated, &doc); err != nil {
		return nil, fmt.Errorf("generated OpenAPI document: %w", err)
	}
	if err := json.Unmarshal(supplement, &sup); err != nil {
		return nil, fmt.Errorf("OpenAPI supplement: %w", err)
	}
	if sup.Info != nil {
		doc.Info = sup.Info
	}
	for _, m := range []struct {
		what     string
		dst, src *map[string]json.RawMessage
	}{
		{"path", &doc.Paths, &sup.Paths},
		{"definition", &doc.Definitions, &sup.Definitions},
		{"security definition", &doc.SecurityDefinitions, &sup.SecurityDefinitions},
	} {
		if *m.dst == nil {
			*m.dst = map[string]json.RawMessage{}
		}
		for _, k := range slices.Sorted(maps.Keys(*m.src)) {
			if _, dup := (*m.dst)[k]; dup {
				return nil, fmt.Errorf("OpenAPI supplement: %s %s is also generated from the protos", m.what, k)
			}
			(*m.dst)[k] = (*m.src)[k]
		}
	}
	used, err := usedTags(doc.Paths)
	if err != nil {
		return nil, err
	}
	tags := make([]openAPITag, 0, len(doc.Tags)+len(sup.Tags))
	for _, t := range append(doc.Tags, sup.Tags...) {
		if used[t.Name] {
			tags = append(tags, t)
		}
	}
	doc.Tags = tags
	return json.MarshalIndent(doc, "", "  ")
}

// usedTags is the set of tags the operations of paths name.
func usedTags(paths map[string]json.RawMessage) (map[string]bool, error) {
	used := map[string]bool{}
	for path, item := range paths {
		var ops map[string]struct {
			Tags []string `json:"tags"`
		}
		if err := json.Unmarshal(item, &ops); err != nil {
			return nil, fmt.Errorf("OpenAPI path %s: %w", path, err)
		}
		for _, op := range ops {
			for _, t := range op.Tags {
				used[t] = true
			}
		}
	}
	return used, nil
}

// newOpenAPIHandler serves GET /openapi.json: the merged document, built
// once.
func newOpenAPIHandler() (http.Handler, error) {
	doc, err := mergeOpenAPI(generatedOpenAPI, oauthOpenAPI)
	if err != nil {
		return nil, err
	}
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(doc) // the client is gone; nothing to do
	}), nil
}
