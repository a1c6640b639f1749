package dashboard

import (
	"bytes"
	"cmp"
	"fmt"
	"html/template"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/engagehq/engage/datasets"
	"github.com/engagehq/engage/reports"
)

// Handler serves the dashboard pages.
type Handler struct {
	// Books gives the request's tenant's data.
	Books *reports.Books
	// Prefix is where the dashboard is mounted; "/dashboard" when empty.
	Prefix string
	// API is where the JSON reports are mounted, linked from every page;
	// "/v1/reports" when empty.
	API string
}

// pages lists the report pages in navigation order.
var pages = []struct{ name, title, about string }{
	{"uplift", "Uplift", "Model policy (treatment) against business as usual (holdout): liquidation, payment rate, amount per account, contacts per payment, complaints and opt-outs, with 95% intervals, in total and by week."},
	{"model-uplift", "Model uplift", "Qini curve and coefficient of the uplift model on the latest logged decisions, after its training cut-off."},
	{"liquidation", "Liquidation", "Money collected over money referred, by age band, region and both, with the counts behind each cell."},
	{"seasonality", "Seasonality", "Contacts, engagement and payments by the debtor's local month, weekday, hour and day of month."},
	{"channels", "Channels", "The funnel sent → delivered → opened/answered → replied → promised → paid, by channel and jurisdiction."},
}

type section struct {
	Title string
	Note  string
	Chart []template.HTML
	Table *reports.Table
}

type pageData struct {
	Title, Name, About string
	Prefix, API, Query string
	Nav                []navItem
	Filter             reports.Filter
	From, To           string
	Jur, Prod, Chan    string
	Status, Message    string
	Span               string
	Sections           []section
	Index              bool
	Pages              []navItem
	Channels, Products []string
}

type navItem struct{ Name, Title, About string }

func (h *Handler) prefix() string {
	if h.Prefix == "" {
		return "/dashboard"
	}
	return strings.TrimSuffix(h.Prefix, "/")
}

// ServeHTTP serves the index at the prefix and one page per report below it.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := strings.Trim(strings.TrimPrefix(r.URL.Path, h.prefix()), "/")
	d := pageData{Prefix: h.prefix(), API: h.API, Channels: datasets.Channels, Products: datasets.Products}
	if d.API == "" {
		d.API = "/v1/reports"
	}
	for _, p := range pages {
		d.Nav = append(d.Nav, navItem{p.name, p.title, p.about})
		if p.name == name {
			d.Name, d.Title, d.About = p.name, p.title, p.about
		}
	}
	if name != "" && d.Name == "" {
		http.Error(w, fmt.Sprintf("no dashboard page %q", name), http.StatusNotFound)
		return
	}
	f, err := reports.ParseFilter(r.URL.Query())
	code := http.StatusOK
	if err != nil {
		code = http.StatusBadRequest
		d.Status, d.Message = "error", "bad filter: "+err.Error()
	}
	d.Filter = f
	d.Query = f.Query().Encode()
	if !f.From.IsZero() {
		d.From = f.From.Format(time.DateOnly)
	}
	if !f.To.IsZero() {
		d.To = f.To.Format(time.DateOnly)
	}
	d.Jur, d.Prod, d.Chan = strings.Join(f.Jurisdictions, ","), strings.Join(f.Products, ","), strings.Join(f.Channels, ",")
	if d.Status == "" {
		var b *reports.Book
		var rep reports.Report
		var err error
		if d.Name == "" {
			b, err = h.Books.Book(r)
		} else {
			rep, b, err = h.Books.Report(r, d.Name, f)
		}
		if err != nil {
			slog.Error("dashboard: load", "page", d.Name, "err", err)
			http.Error(w, "could not load the tenant's data", http.StatusInternalServerError)
			return
		}
		if first, last := b.Span(); !first.IsZero() {
			d.Span = fmt.Sprintf("%s accounts; events from %s to %s (UTC)", group(strconv.Itoa(b.Accounts())), first.Format(time.DateOnly), last.Format(time.DateOnly))
		}
		if d.Name == "" {
			d.Index, d.Title, d.Pages = true, "Reports", d.Nav
		} else {
			d.Status, d.Message, d.Sections = build(rep)
		}
	}
	var buf bytes.Buffer
	if err := page.Execute(&buf, &d); err != nil {
		slog.Error("dashboard: render", "page", name, "err", err)
		http.Error(w, "render failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'")
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

// build turns a report into its page sections: charts, then the table each
// chart is drawn from.
func build(rep reports.Report) (status, message string, out []section) {
	tables := map[string]*reports.Table{}
	ts := rep.Tables()
	for i := range ts {
		tables[ts[i].Name] = &ts[i]
	}
	switch r := rep.(type) {
	case *reports.UpliftReport:
		status, message = r.Status, r.Message
		out = upliftSections(r, tables)
	case *reports.ModelUpliftReport:
		status, message = r.Status, r.Message
		out = modelUpliftSections(r, tables)
	case *reports.LiquidationReport:
		status, message = r.Status, r.Message
		out = liquidationSections(r, tables)
	case *reports.SeasonalityReport:
		status, message = r.Status, r.Message
		out = seasonalitySections(r, tables)
	case *reports.ChannelsReport:
		status, message = r.Status, r.Message
		s := section{Title: "Funnel by channel", Table: tables["by_channel"],
			Note: "Delivered, engaged (opened/answered) and replied are nested; promised and paid are attributed to the contact (by decision, else last touch within 7 days)."}
		for _, fn := range r.ByChannel {
			s.Chart = append(s.Chart, template.HTML(funnel("Funnel: "+fn.Channel, r.Stages, fn.Counts)))
		}
		out = append(out, s, section{Title: "Funnel by channel and jurisdiction", Table: tables["by_channel_jurisdiction"]})
	}
	return status, message, out
}

func ptrf(x float64) *float64 { return &x }

// modelUpliftSections draws the headline arm's Qini curve and every arm's
// coefficients.
func modelUpliftSections(r *reports.ModelUpliftReport, tables map[string]*reports.Table) []section {
	unit := r.Unit + "s"
	s := section{Title: "Qini curve", Table: tables["curve"], Note: r.Note}
	if r.Qini != nil {
		what := fmt.Sprintf("%s = %s against %s = %s", r.Treatment, r.Arm, r.Treatment, r.Control)
		if r.Unit == "account" {
			what = "treatment arm against holdout"
		}
		s.Note = strings.TrimSpace(fmt.Sprintf("Qini coefficient %s, AUUC %s for %s on %s: %d treated and %d control %s (left out, all arms: %d in training, %d with an open outcome window, %d unscored); model %s. %s",
			strconv.FormatFloat(*r.Qini, 'f', 4, 64), fmtOpt(r.AUUC), what, r.Outcome, r.Treated, r.Controls, unit,
			r.InTraining, r.Censored, r.Unscored, cmp.Or(r.Model, "unnamed"), r.Note))
		var labels []string
		inc, rnd := series{Name: "model"}, series{Name: "random"}
		for _, p := range r.Curve {
			labels = append(labels, fmt.Sprintf("%.0f%%", 100*p.Share))
			inc.Values, rnd.Values = append(inc.Values, ptrf(p.Incremental)), append(rnd.Values, ptrf(p.Random))
		}
		s.Chart = append(s.Chart, template.HTML(lineChart("Qini curve", "share of "+unit+" targeted (best predicted uplift first)",
			"incremental responders ("+r.Outcome+")", labels, []series{inc, rnd}, fmtNum)))
	}
	arms := section{Title: "Qini by treatment arm", Table: tables["arms"],
		Note: "Each treatment arm against the control, ranked by the model's effect of that arm; an arm with too few treated or control " + unit + " has no figures."}
	if len(r.Arms) > 1 {
		var labels []string
		q, u := series{Name: "Qini coefficient"}, series{Name: "AUUC"}
		for _, a := range r.Arms {
			labels = append(labels, a.Arm)
			q.Values, u.Values = append(q.Values, a.Qini), append(u.Values, a.AUUC)
		}
		arms.Chart = append(arms.Chart, template.HTML(barChart("Qini coefficient and AUUC by arm", r.Treatment, "coefficient", labels, []series{q, u}, fmtNum)))
	}
	return []section{s, arms}
}

func fmtOpt(x *float64) string {
	if x == nil {
		return "n/a"
	}
	return strconv.FormatFloat(*x, 'f', 4, 64)
}

var metricTitles = map[string]string{
	reports.MetricLiquidation:     "Liquidation rate",
	reports.MetricPaymentRate:     "Payment rate",
	reports.MetricAmountPerAcct:   "Amount collected per account",
	reports.MetricContactsPerPaid: "Contacts per payment",
	reports.MetricComplaintsPerM:  "Complaints per million contacts",
	reports.MetricOptOutRate:      "Opt-out rate",
}

func metricFormat(name string) func(float64) string {
	switch name {
	case reports.MetricLiquidation, reports.MetricPaymentRate, reports.MetricOptOutRate:
		return fmtPct
	case reports.MetricAmountPerAcct:
		return fmtMoney
	}
	return fmtNum
}

func upliftSections(r *reports.UpliftReport, tables map[string]*reports.Table) []section {
	head := section{Title: "Treatment vs holdout", Table: tables["metrics"],
		Note: fmt.Sprintf("Treatment: %d accounts (decisions by policy: %s); holdout: %d accounts (%s); %d accounts without decisions left out. Intervals: %.0f%%, Newcombe hybrid Wilson for proportions, percentile bootstrap (%d resamples, %d per week) for ratios and means; significant when the interval excludes 0.",
			r.Treatment.Accounts, policies(r.Treatment.Policies), r.Holdout.Accounts, policies(r.Holdout.Policies), r.Unassigned, 100*r.Confidence, r.Resamples, r.WeeklyResamples)}
	if len(r.Treatment.Policies) == 1 && len(r.Holdout.Policies) == 1 && r.Treatment.Policies["bau"] > 0 && r.Holdout.Policies["bau"] > 0 {
		head.Note += " Both arms ran the business-as-usual policy: this is an A/A comparison, differences should not be significant."
	}
	// Difference per metric, with its interval as whiskers.
	var labels []string
	d := series{Name: "treatment − holdout"}
	tr, ho := series{Name: "treatment"}, series{Name: "holdout"}
	var rateLabels []string
	for _, m := range r.Metrics {
		if m.Name == reports.MetricPaymentRate || m.Name == reports.MetricOptOutRate || m.Name == reports.MetricLiquidation {
			l := shortTitles[m.Name]
			if m.Currency != "" {
				l += " " + m.Currency
			}
			rateLabels = append(rateLabels, l)
			tr.Values, ho.Values = append(tr.Values, m.Treatment), append(ho.Values, m.Holdout)
		}
		if m.Name == reports.MetricPaymentRate || m.Name == reports.MetricOptOutRate {
			labels = append(labels, metricTitles[m.Name])
			d.Values, d.Low, d.High = append(d.Values, m.Diff), append(d.Low, m.Low), append(d.High, m.High)
		}
	}
	head.Chart = append(head.Chart,
		template.HTML(barChart("Rates by arm", "metric", "rate", rateLabels, []series{tr, ho}, fmtPct)),
		template.HTML(barChart("Difference in rates with 95% interval", "metric", "treatment − holdout", labels, []series{d}, fmtPct)))
	weekly := section{Title: "Week by week", Table: tables["weekly"], Note: "Difference treatment − holdout per week (line) with its interval (band); gaps where a week has not enough data."}
	type key struct{ name, cur string }
	var keys []key
	seen := map[key]bool{}
	for _, w := range r.Weekly {
		for _, m := range w.Metrics {
			k := key{m.Name, m.Currency}
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	var weeks []string
	for _, w := range r.Weekly {
		weeks = append(weeks, w.Start.Format("Jan 02"))
	}
	var skipped []string
	for _, k := range keys {
		s := series{Name: "difference"}
		for _, w := range r.Weekly {
			var m *reports.Metric
			for i := range w.Metrics {
				if w.Metrics[i].Name == k.name && w.Metrics[i].Currency == k.cur {
					m = &w.Metrics[i]
				}
			}
			if m == nil {
				s.Values, s.Low, s.High = append(s.Values, nil), append(s.Low, nil), append(s.High, nil)
				continue
			}
			s.Values, s.Low, s.High = append(s.Values, m.Diff), append(s.Low, m.Low), append(s.High, m.High)
		}
		t := metricTitles[k.name]
		if k.cur != "" {
			t += " (" + k.cur + ")"
		}
		if !anyValue(s.Values) {
			skipped = append(skipped, t)
			continue
		}
		weekly.Chart = append(weekly.Chart, template.HTML(lineChart(t+": treatment − holdout", "week starting (UTC)", "difference", weeks, []series{s}, metricFormat(k.name))))
	}
	if len(skipped) > 0 {
		weekly.Note += " Not enough data in any week for: " + strings.Join(skipped, ", ") + "."
	}
	return []section{head, weekly}
}

var shortTitles = map[string]string{
	reports.MetricLiquidation: "Liq.",
	reports.MetricPaymentRate: "Payment",
	reports.MetricOptOutRate:  "Opt-out",
}

func anyValue(vs []*float64) bool {
	for _, v := range vs {
		if v != nil {
			return true
		}
	}
	return false
}

// policies formats decision counts by policy, largest first.
func policies(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	keys := slices.SortedFunc(maps.Keys(m), func(a, b string) int { return cmp.Or(cmp.Compare(m[b], m[a]), cmp.Compare(a, b)) })
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + " " + group(strconv.Itoa(m[k]))
	}
	return strings.Join(parts, ", ")
}

func liquidationSections(r *reports.LiquidationReport, tables map[string]*reports.Table) []section {
	curs := currencies(r.Total)
	bars := func(title, xl string, cells []reports.LiquidationCell, label func(reports.LiquidationCell) string) template.HTML {
		var labels []string
		idx := map[string]int{}
		for _, c := range cells {
			l := label(c)
			if _, ok := idx[l]; !ok {
				idx[l] = len(labels)
				labels = append(labels, l)
			}
		}
		var ss []series
		for _, cur := range curs {
			s := series{Name: cur, Values: make([]*float64, len(labels))}
			for _, c := range cells {
				if c.Currency == cur {
					s.Values[idx[label(c)]] = c.LiquidationRate
				}
			}
			ss = append(ss, s)
		}
		return template.HTML(barChart(title, xl, "liquidation rate", labels, ss, fmtPct))
	}
	age := func(c reports.LiquidationCell) string { return c.AgeBand }
	reg := func(c reports.LiquidationCell) string { return c.Region }
	// Heat map age band × region (liquidation pooled over the region's
	// currency: regions have one currency each in practice).
	var ages, regions []string
	ai, ri := map[string]int{}, map[string]int{}
	for _, c := range r.ByBoth {
		if _, ok := ai[c.AgeBand]; !ok {
			ai[c.AgeBand] = len(ages)
			ages = append(ages, c.AgeBand)
		}
	}
	for _, c := range r.ByRegion {
		if _, ok := ri[c.Region]; !ok {
			ri[c.Region] = len(regions)
			regions = append(regions, c.Region)
		}
	}
	vals := make([][]*float64, len(ages))
	counts := make([][]int, len(ages))
	for i := range ages {
		vals[i], counts[i] = make([]*float64, len(regions)), make([]int, len(regions))
	}
	for _, c := range r.ByBoth {
		vals[ai[c.AgeBand]][ri[c.Region]] = c.LiquidationRate
		counts[ai[c.AgeBand]][ri[c.Region]] += c.Accounts
	}
	note := fmt.Sprintf("Cells with fewer than %d accounts are flagged small; each rate is in the cell's own currency.", r.MinCell)
	return []section{
		{Title: "By age band", Note: note, Table: tables["by_age_band"], Chart: []template.HTML{bars("Liquidation rate by age band", "age band", r.ByAgeBand, age)}},
		{Title: "By region", Table: tables["by_region"], Chart: []template.HTML{bars("Liquidation rate by region", "region", r.ByRegion, reg)}},
		{Title: "By age band and region", Table: tables["by_age_band_and_region"],
			Chart: []template.HTML{template.HTML(heatMap("Liquidation rate by age band and region", "region", "age band", ages, regions, vals, counts, fmtPct))}},
		{Title: "Total", Table: tables["total"]},
	}
}

func currencies(cells []reports.LiquidationCell) []string {
	var out []string
	for _, c := range cells {
		if len(out) == 0 || out[len(out)-1] != c.Currency {
			out = append(out, c.Currency)
		}
	}
	return out
}

func seasonalitySections(r *reports.SeasonalityReport, tables map[string]*reports.Table) []section {
	two := func(title, xl string, bs []reports.SeasonBucket, table string) section {
		var labels []string
		pay, eng := series{Name: "payments per day"}, series{Name: "engagement rate"}
		for _, b := range bs {
			labels = append(labels, b.Label)
			pay.Values, eng.Values = append(pay.Values, b.PaymentsPerDay), append(eng.Values, b.EngagementRate)
		}
		return section{Title: title, Table: tables[table], Chart: []template.HTML{
			template.HTML(barChart("Payments per day by "+xl, xl+" (debtor's local time)", "payments per day", labels, []series{pay}, fmtNum)),
			template.HTML(barChart("Engagement rate of contacts by "+xl, xl+" of sending (local)", "engaged / contacts", labels, []series{eng}, fmtPct)),
		}}
	}
	days := make([]string, 7)
	vals, pays := make([][]*float64, 7), make([][]*float64, 7)
	counts, pcounts := make([][]int, 7), make([][]int, 7)
	hours := make([]string, 24)
	for h := range hours {
		hours[h] = fmt.Sprintf("%02d", h)
	}
	for d := range 7 {
		vals[d], pays[d], counts[d], pcounts[d] = make([]*float64, 24), make([]*float64, 24), make([]int, 24), make([]int, 24)
		for h := range 24 {
			b := r.HourWeekday[d*24+h]
			days[d] = strings.Fields(b.Label)[0]
			vals[d][h], counts[d][h] = b.EngagementRate, b.Contacts
			pays[d][h], pcounts[d][h] = b.PaymentsPerDay, b.Payments
		}
	}
	hw := section{Title: "Hour × weekday", Table: tables["by_weekday_hour"],
		Note: "Hover a cell for its value and count. Engagement: contacts by local send time; payments by local payment time.",
		Chart: []template.HTML{
			template.HTML(heatMap("Engagement rate by local hour and weekday", "local hour", "weekday", days, hours, vals, nil, fmtPct)),
			template.HTML(heatMap("Payments per day by local hour and weekday", "local hour", "weekday", days, hours, pays, nil, fmtNum)),
		}}
	return []section{
		two("By month", "month", r.ByMonth, "by_month"),
		two("By weekday", "weekday", r.ByWeekday, "by_weekday"),
		two("By hour", "hour", r.ByHour, "by_hour"),
		two("By day of month (paydays)", "day of month", r.ByDayOfMonth, "by_day_of_month"),
		hw,
	}
}

// Number formats, shared by charts and tables.

func fmtPct(x float64) string { return strconv.FormatFloat(100*x, 'f', 2, 64) + "%" }

func fmtMoney(x float64) string { return group(strconv.FormatFloat(x/100, 'f', 2, 64)) }

func fmtNum(x float64) string {
	if math.Abs(x) >= 100 || x == math.Trunc(x) {
		return group(strconv.FormatFloat(x, 'f', 1, 64))
	}
	return strconv.FormatFloat(x, 'f', 4, 64)
}

// group inserts thousands separators into a formatted number.
func group(s string) string {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	intPart, frac, hasFrac := strings.Cut(s, ".")
	var b strings.Builder
	for i, c := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	out := b.String()
	if hasFrac {
		out += "." + frac
	}
	if neg {
		out = "-" + out
	}
	return out
}

// cellText formats a table cell for display.
func cellText(c reports.Cell, col reports.Column) string {
	switch v := c.V.(type) {
	case nil:
		return "n/a"
	case string:
		if v == "" {
			return "–"
		}
		return v
	case bool:
		if v {
			return "yes"
		}
		return "no"
	case int64:
		if col.Format == reports.FormatMoney {
			return fmtMoney(float64(v))
		}
		return group(strconv.FormatInt(v, 10))
	case float64:
		switch col.Format {
		case reports.FormatPercent:
			return fmtPct(v)
		case reports.FormatMoney:
			return fmtMoney(v)
		}
		return fmtNum(v)
	case time.Time:
		return v.Format(time.DateOnly)
	}
	return fmt.Sprint(c.V)
}

// cellValue is the exact value for data-value: what the JSON holds.
func cellValue(c reports.Cell) string {
	switch v := c.V.(type) {
	case nil:
		return "null"
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	case time.Time:
		return v.UTC().Format(time.RFC3339)
	case string:
		return v
	}
	return fmt.Sprint(c.V)
}

func isNumeric(col reports.Column) bool {
	return col.Kind == reports.KindInt || col.Kind == reports.KindFloat
}

// fmtName is the data-fmt of a column, for the browser test to parse the
// shown text back.
func fmtName(col reports.Column) string {
	switch {
	case col.Format == reports.FormatPercent:
		return "pct"
	case col.Format == reports.FormatMoney:
		return "money"
	case col.Kind == reports.KindInt:
		return "int"
	case col.Kind == reports.KindFloat:
		return "num"
	}
	return "text"
}

var page = template.Must(template.New("page").Funcs(template.FuncMap{
	"text":    cellText,
	"value":   cellValue,
	"numeric": isNumeric,
	"fmt":     fmtName,
	"at":      func(row []reports.Cell, i int) reports.Cell { return row[i] },
}).Parse(pageHTML))
