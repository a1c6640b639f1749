package serving

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/engagehq/engage/compliance"
	"github.com/engagehq/engage/datasets"
	"github.com/engagehq/engage/serving/engine"
	"github.com/engagehq/engage/store"
)

type openAPI struct {
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas map[string]struct {
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"schemas"`
	} `json:"components"`
}

// TestOpenAPI checks the document against the real router (every route is
// documented, every documented operation is routed) and the real payload
// types (each schema's properties are exactly the type's JSON fields).
func TestOpenAPI(t *testing.T) {
	var doc openAPI
	if err := json.Unmarshal(openAPIDoc, &doc); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, "", DefaultOptions())
	routed := map[string]bool{}
	for _, r := range e.srv.Echo().Routes() {
		p := r.Path
		if strings.HasSuffix(p, "/*") {
			continue // the dashboard's pages below /dashboard
		}
		parts := strings.Split(p, "/")
		for i, s := range parts {
			if strings.HasPrefix(s, ":") {
				parts[i] = "{" + s[1:] + "}"
			}
		}
		key := strings.ToLower(r.Method) + " " + strings.Join(parts, "/")
		routed[key] = true
		if _, ok := doc.Paths[strings.Join(parts, "/")][strings.ToLower(r.Method)]; !ok {
			t.Errorf("route %s is not documented", key)
		}
	}
	for p, ops := range doc.Paths {
		for m := range ops {
			if !routed[m+" "+p] {
				t.Errorf("documented %s %s is not routed", m, p)
			}
		}
	}
	types := map[string]any{
		"Account": datasets.Account{}, "Event": datasets.Event{},
		"ReferralsRequest": ReferralsRequest{}, "ReferralsResponse": ReferralsResponse{},
		"EventsRequest": EventsRequest{}, "EventsResponse": EventsResponse{}, "Change": store.Change{},
		"ChangesResponse": ChangesResponse{}, "DecisionsRequest": DecisionsRequest{}, "DecisionsResponse": DecisionsResponse{},
		"Action": engine.Action{}, "ChannelVerdict": engine.ChannelVerdict{}, "Compliance": engine.Compliance{},
		"FeatureInfo": engine.FeatureInfo{}, "Decision": auditRecord{Decision: &engine.Decision{}},
		"DecisionRecord": store.DecisionRecord{}, "AccountResponse": AccountResponse{},
		"ServingInfo": ServingInfo{}, "ModelsResponse": ModelsResponse{},
		"ComplianceRequest": compliance.Request{}, "ComplianceDecision": compliance.Decision{},
	}
	for name, v := range types {
		s, ok := doc.Components.Schemas[name]
		if !ok {
			t.Errorf("schema %s missing", name)
			continue
		}
		var want []string
		for p := range s.Properties {
			want = append(want, p)
		}
		got := jsonFields(reflect.TypeOf(v))
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("schema %s: properties %v, Go type has %v", name, want, got)
		}
	}
	// a real decision answer has exactly the documented fields
	seed(t, e, "a", world(1, "O"))
	var raw struct {
		Decisions []map[string]json.RawMessage `json:"decisions"`
	}
	e.do("POST", "/v1/decisions", "a", DecisionsRequest{AccountID: "O0000"}, &raw)
	for k := range raw.Decisions[0] {
		if _, ok := doc.Components.Schemas["Decision"].Properties[k]; !ok {
			t.Errorf("decision field %q not documented", k)
		}
	}
}

// jsonFields lists the JSON names of a struct's fields, embedded structs flattened.
func jsonFields(t reflect.Type) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			out = append(out, jsonFields(f.Type)...)
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, name)
	}
	return out
}
