// Package dashboard serves the reports as HTML pages at /dashboard: one page
// per report with charts drawn as inline SVG in Go (no scripts, fonts or
// styles from the network, so it works offline), a filter form, and under each
// chart the table the chart is drawn from. The tables are the reports' own
// Tables, the same code that makes the CSV and Parquet exports, and every
// number carries data-ptr (its JSON pointer in the report's JSON) and
// data-value (the exact value), so a browser test can check the page against
// GET /v1/reports/{name}.
//
// The Handler does no authentication: serving mounts it behind the API-key
// middleware with the "reports" scope (e.g. e.GET("/dashboard*",
// echo.WrapHandler(h))), and reports.Books.Source returns the authenticated
// tenant's data.
package dashboard
