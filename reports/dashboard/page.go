package dashboard

// pageHTML is the one page template: navigation, filter form, status, then
// each section's charts and table. Plain HTML and inline SVG: no scripts and
// nothing fetched from the network.
const pageHTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} · engage dashboard</title>
<link rel="icon" href="data:,">
<style>
body { font-family: "DejaVu Sans", Arial, sans-serif; margin: 0; color: #222; background: #fafafa; font-size: 14px; }
header { background: #1f3b57; color: #fff; padding: 10px 20px; display: flex; gap: 18px; align-items: baseline; flex-wrap: wrap; }
header a { color: #dbe8f5; text-decoration: none; }
header a.on { color: #fff; font-weight: bold; border-bottom: 2px solid #f28e2b; }
header .brand { font-weight: bold; font-size: 16px; color: #fff; }
main { padding: 12px 20px 40px; }
form { background: #fff; border: 1px solid #ddd; padding: 8px 12px; display: flex; gap: 12px; flex-wrap: wrap; align-items: end; }
form label { display: flex; flex-direction: column; font-size: 12px; color: #555; }
form input { font-size: 13px; padding: 3px 5px; width: 120px; }
form button { padding: 4px 14px; }
.status { margin: 10px 0; padding: 8px 12px; border-radius: 3px; }
.status.not_enough_data, .status.no_model { background: #fff4e0; border: 1px solid #f2c27b; }
.status.error { background: #fde8e8; border: 1px solid #e15759; }
section { background: #fff; border: 1px solid #ddd; margin: 14px 0; padding: 10px 14px; }
section h2 { font-size: 16px; margin: 4px 0 8px; }
.note { color: #555; font-size: 12px; margin: 4px 0 8px; }
.charts { display: flex; flex-wrap: wrap; gap: 10px; }
.charts svg { background: #fff; border: 1px solid #eee; }
.tablewrap { max-height: 420px; overflow: auto; margin-top: 8px; }
table { border-collapse: collapse; font-size: 12px; }
th, td { border: 1px solid #e3e3e3; padding: 2px 6px; }
th { background: #f0f3f6; position: sticky; top: 0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.small td { color: #8a6d3b; background: #fffaf0; }
.index li { margin: 6px 0; }
footer { color: #777; font-size: 12px; }
</style>
</head>
<body>
<header>
<span class="brand">engage reports</span>
<a href="{{.Prefix}}?{{.Query}}"{{if .Index}} class="on"{{end}}>Index</a>
{{range .Nav}}<a href="{{$.Prefix}}/{{.Name}}?{{$.Query}}"{{if eq .Name $.Name}} class="on"{{end}}>{{.Title}}</a>
{{end}}
</header>
<main>
<h1 id="title">{{.Title}}</h1>
{{if .About}}<p class="note">{{.About}}</p>{{end}}
<form method="get" action="">
<label>from (UTC, inclusive)<input type="date" name="from" value="{{.From}}"></label>
<label>to (UTC, exclusive)<input type="date" name="to" value="{{.To}}"></label>
<label>jurisdiction<input type="text" name="jurisdiction" value="{{.Jur}}" placeholder="US, GB, US-MA"></label>
<label>product<input type="text" name="product" value="{{.Prod}}" placeholder="bnpl"></label>
<label>channel<input type="text" name="channel" value="{{.Chan}}" placeholder="email, sms"></label>
<button type="submit">Apply</button>
{{if .Name}}<a href="{{.API}}/{{.Name}}?{{.Query}}">JSON</a>{{end}}
</form>
{{if .Span}}<p class="note" id="span">{{.Span}}</p>{{end}}
{{if and .Status (ne .Status "ok")}}<div class="status {{.Status}}" id="status" data-status="{{.Status}}">{{.Message}}</div>{{end}}
{{if .Index}}
<ul class="index">
{{range .Pages}}<li><a href="{{$.Prefix}}/{{.Name}}?{{$.Query}}">{{.Title}}</a>: {{.About}}</li>
{{end}}
</ul>
{{end}}
{{range $si, $s := .Sections}}
<section id="s{{$si}}">
<h2>{{$s.Title}}</h2>
{{if $s.Note}}<p class="note">{{$s.Note}}</p>{{end}}
{{if $s.Chart}}<div class="charts">{{range $s.Chart}}{{.}}{{end}}</div>{{end}}
{{with $s.Table}}
<div class="tablewrap">
<table data-table="{{.Name}}">
<thead><tr>{{range .Columns}}<th>{{.Name}}</th>{{end}}</tr></thead>
<tbody>
{{range $row := .Rows}}<tr>
{{- range $i, $col := $s.Table.Columns}}{{$c := at $row $i}}{{if numeric $col}}<td class="num" data-ptr="{{$c.Ptr}}" data-value="{{value $c}}" data-fmt="{{fmt $col}}">{{text $c $col}}</td>{{else}}<td data-ptr="{{$c.Ptr}}">{{text $c $col}}</td>{{end}}{{end}}</tr>
{{end}}
</tbody>
</table>
</div>
{{end}}
</section>
{{end}}
<footer>Rendered from the same report structs as <code>{{.API}}</code>; charts are inline SVG drawn on the server.</footer>
</main>
</body>
</html>
`
