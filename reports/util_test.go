package reports

import "net/url"

func urlParse(s string) (url.Values, error) { return url.ParseQuery(s) }
