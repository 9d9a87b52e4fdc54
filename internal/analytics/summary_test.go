package analytics_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/analytics"
	"github.com/omnitrackiq/omnitrackiq/internal/channels"
)

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// TestSummaryHandBuilt checks each rule of the definitions on orders whose answers are
// worked out by hand, around midnight and the 2024-03-10 DST change in New York.
func TestSummaryHandBuilt(t *testing.T) {
	f := newFixture(t)
	ny := f.workspace("NY", "USD", "America/New_York")
	f.orders(ny,
		order{id: "p", at: utc("2024-02-01T15:00:00Z"), total: 100e6, customer: "c1"},
		order{id: "a", at: utc("2024-03-10T04:30:00Z"), total: 10e6, email: "e9"},    // 03-09 23:30 EST
		order{id: "b", at: utc("2024-03-10T05:00:00Z"), total: 20e6, customer: "c1"}, // 03-10 00:00 EST, repeat customer
		order{id: "c", at: utc("2024-03-11T03:59:59Z"), total: 30e6},                 // 03-10 23:59:59 EDT, guest
		order{id: "d", at: utc("2024-03-11T04:00:00Z"), total: 40e6, customer: "c3"}, // 03-11 00:00 EDT
		order{id: "e", at: utc("2024-03-10T15:00:00Z"), total: 1000e6, customer: "c4", test: true},
		order{id: "f", at: utc("2024-03-10T16:00:00Z"), total: 50e6, refunded: 20e6, customer: "c4"}, // first valid of c4
		order{id: "g", at: utc("2024-03-10T17:00:00Z"), total: 500e6, customer: "c5", cancelled: true},
		order{id: "h", at: utc("2024-03-01T17:00:00Z"), total: 7e6, customer: "c6", cancelled: true},
		order{id: "i", at: utc("2024-03-10T18:00:00Z"), total: 60e6, customer: "c6"}, // first valid of c6
		order{id: "j", at: utc("2024-03-10T19:00:00Z"), total: 5e6, email: "e1"},
		order{id: "k", at: utc("2024-03-10T20:00:00Z"), total: 5e6, email: "e1"},                      // e1 counted once
		order{id: "l", at: utc("2024-03-10T21:00:00Z"), total: 99e6, currency: "EUR", customer: "c7"}, // new, no revenue
		order{id: "m", at: utc("2024-03-10T22:00:00Z"), total: 15e6, refunded: 15e6, customer: "c1"},  // fully refunded
	)
	f.ads(ny,
		ad{channel: "meta", account: "1", campaign: "m1", date: "2024-03-10", currency: "USD",
			spend: 80e6, impressions: 1000, clicks: 40, conversions: "1.5", value: 100e6},
		ad{channel: "google_ads", account: "2", campaign: "g1", date: "2024-03-10", currency: "EUR", spend: 50e6},
	)
	f.sessions(ny, session{date: "2024-03-10", source: "google", sessions: 200},
		session{date: "2024-03-10", source: "facebook", sessions: 50, currency: "EUR"})
	// The same instant is another day in a UTC workspace, whose rows must not leak into NY's.
	other := f.workspace("UTC", "USD", "UTC")
	f.orders(other, order{id: "a", at: utc("2024-03-10T04:30:00Z"), total: 10e6, email: "e9"})

	type want struct {
		orders, revenue, newCustomers, spend, sessions int64
	}
	cases := []struct {
		ws, from, to     string
		current, prev    want
		excluded         []string
		prevFrom, prevTo string
	}{
		// The EUR property's 50 sessions are left out like the EUR orders they would convert into.
		{ny, "2024-03-10", "2024-03-10", want{7, 150e6, 4, 80e6, 200}, want{1, 10e6, 1, 0, 0}, []string{"EUR"}, "2024-03-09", "2024-03-09"},
		{ny, "2024-03-09", "2024-03-11", want{9, 200e6, 6, 80e6, 200}, want{}, []string{"EUR"}, "2024-03-06", "2024-03-08"},
		{ny, "2024-03-11", "2024-03-11", want{1, 40e6, 1, 0, 0}, want{7, 150e6, 4, 80e6, 200}, []string{}, "2024-03-10", "2024-03-10"},
		{ny, "2024-02-01", "2024-02-01", want{1, 100e6, 1, 0, 0}, want{}, []string{}, "2024-01-31", "2024-01-31"},
		{ny, "2024-03-01", "2024-03-01", want{}, want{}, []string{}, "2024-02-29", "2024-02-29"},
		{ny, "2024-02-01", "2024-03-31", want{10, 300e6, 7, 80e6, 200}, want{}, []string{"EUR"}, "2023-12-03", "2024-01-31"},
		{other, "2024-03-10", "2024-03-10", want{1, 10e6, 1, 0, 0}, want{}, []string{}, "2024-03-09", "2024-03-09"},
		{other, "2024-03-09", "2024-03-09", want{}, want{}, []string{}, "2024-03-08", "2024-03-08"},
	}
	for _, tc := range cases {
		t.Run(tc.from+".."+tc.to, func(t *testing.T) {
			f := f.with(t)
			s, err := f.q.Summary(f.ctx, tc.ws, window(t, tc.from, tc.to))
			if err != nil {
				t.Fatal(err)
			}
			got := func(x analytics.Totals) want {
				return want{x.Orders, x.RevenueMicros, x.NewCustomers, x.SpendMicros, x.Sessions}
			}
			if got(s.Current) != tc.current || got(s.Previous) != tc.prev {
				t.Errorf("current %+v previous %+v, want %+v and %+v", got(s.Current), got(s.Previous), tc.current, tc.prev)
			}
			if !slices.Equal(s.ExcludedCurrencies, tc.excluded) || s.ExcludedCurrencies == nil {
				t.Errorf("excluded %v, want %v", s.ExcludedCurrencies, tc.excluded)
			}
			if s.PreviousWindow.String() != tc.prevFrom+".."+tc.prevTo {
				t.Errorf("previous window %s", s.PreviousWindow)
			}
			if s.Workspace.ID != tc.ws || s.Workspace.Currency != "USD" {
				t.Errorf("workspace %+v", s.Workspace)
			}
			// The history starts with the workspace's earliest order (p, or a in UTC).
			wantFrom := map[string]string{ny: "2024-02-01", other: "2024-03-10"}[tc.ws]
			if s.OrderHistoryFrom == nil || s.OrderHistoryFrom.Format(time.DateOnly) != wantFrom {
				t.Errorf("order history from %v, want %s", s.OrderHistoryFrom, wantFrom)
			}
			// Every field agrees with the independent computation too.
			if e := f.expect(tc.ws, s.Window); s.Current != e {
				t.Errorf("current %+v, independent SQL %+v", s.Current, e)
			}
		})
	}
	if _, err := f.q.Summary(f.ctx, "00000000-0000-0000-0000-000000000000", window(t, "2024-03-01", "2024-03-01")); err == nil {
		t.Error("summary of an unknown workspace succeeded")
	}
}

// TestNewCustomersFollowTheStoreRecord: new customers follow the store's customer record.
// Each case is one person whose first order we hold is on 2024-05-10, with the store's
// record (or none) deciding whether they are new there.
func TestNewCustomersFollowTheStoreRecord(t *testing.T) {
	f := newFixture(t)
	ws := f.workspace("Store", "USD", "UTC")
	day := utc("2024-05-10T12:00:00Z")
	before := utc("2024-01-01T00:00:00Z")                                         // before the order history, which starts 2024-04-01
	f.orders(ws, order{id: "start", at: utc("2024-04-01T00:00:00Z"), total: 1e6}) // a guest without email
	f.orders(ws,
		// new: the store counts exactly the orders we hold
		order{id: "n1", at: day, total: 1e6, customer: "new1"},
		// returning: the store counts more orders than we hold (older ones, before our sync)
		order{id: "r1", at: day, total: 1e6, customer: "ret1"},
		// returning: count unknown, and the account is older than our order history
		order{id: "r2", at: day, total: 1e6, customer: "ret2"},
		// new: count unknown, account created inside our history
		order{id: "n3", at: day, total: 1e6, customer: "new3"},
		// new: no record at all, first order held
		order{id: "n4", at: day, total: 1e6, customer: "new4"},
		// a guest order on 05-01 merged with the account's 05-10 order: new on 05-01 only
		order{id: "g5", at: utc("2024-05-01T12:00:00Z"), total: 1e6, email: "mail5"},
		order{id: "a5", at: day, total: 1e6, customer: "acct5"},
		// the same merge through an account order's email, without a store record
		order{id: "g6", at: utc("2024-05-01T13:00:00Z"), total: 1e6, email: "mail6"},
		order{id: "a6", at: day, total: 1e6, customer: "acct6", email: "mail6"},
		// a guest whose email is nobody's account: the email is the person, new
		order{id: "g7", at: day, total: 1e6, email: "mail7"},
		// returning through a merged guest: the store counts 3 orders, we hold 1 guest + 1 account
		order{id: "g8", at: utc("2024-05-02T12:00:00Z"), total: 1e6, email: "mail8"},
		order{id: "a8", at: day, total: 1e6, customer: "acct8"},
		// a cancelled order we hold is one the store counts too: still new
		order{id: "c9", at: utc("2024-05-03T12:00:00Z"), total: 1e6, customer: "new9", cancelled: true},
		order{id: "n9", at: day, total: 1e6, customer: "new9"},
		// the same customer id in another shop is another person
		order{id: "s10", shop: "other.myshopify.com", at: day, total: 1e6, customer: "ret1"},
	)
	f.customers(ws,
		customer{id: "new1", created: utc("2024-05-10T11:00:00Z"), ordersCount: 1},
		customer{id: "ret1", created: before, ordersCount: 4},
		customer{id: "ret2", created: before, ordersCount: -1},
		customer{id: "new3", created: utc("2024-05-09T00:00:00Z"), ordersCount: -1},
		customer{id: "acct5", email: "mail5", created: utc("2024-05-01T12:00:00Z"), ordersCount: 2},
		customer{id: "acct8", email: "mail8", created: before, ordersCount: 3},
		customer{id: "new9", created: utc("2024-05-03T11:00:00Z"), ordersCount: 2},
	)
	for _, tc := range []struct {
		from, to string
		want     int64
	}{
		{"2024-05-10", "2024-05-10", 6}, // new1, new3, new4, g7, new9, other shop's ret1
		{"2024-05-01", "2024-05-01", 2}, // acct5 and acct6 through their guest orders
		{"2024-05-02", "2024-05-03", 0}, // acct8 is returning; new9's cancelled order does not count
		{"2024-04-01", "2024-05-31", 8},
	} {
		s, err := f.q.Summary(f.ctx, ws, window(t, tc.from, tc.to))
		if err != nil {
			t.Fatal(err)
		}
		if s.Current.NewCustomers != tc.want {
			t.Errorf("%s..%s: %d new customers, want %d", tc.from, tc.to, s.Current.NewCustomers, tc.want)
		}
		if e := f.expect(ws, s.Window); e.NewCustomers != tc.want {
			t.Errorf("%s..%s: independent SQL counts %d, want %d", tc.from, tc.to, e.NewCustomers, tc.want)
		}
	}
}

// seedRandom fills a New York workspace with a year of random orders, ads and sessions up
// to now, and returns it with today's date there.
func seedRandom(f *fixture) (ws string, today time.Time) {
	f.t.Helper()
	const tz = "America/New_York"
	loc, err := time.LoadLocation(tz)
	if err != nil {
		f.t.Fatal(err)
	}
	ws = f.workspace("Random", "USD", tz)
	today = f.today(tz)
	r := rand.New(rand.NewPCG(7, 11))
	now := time.Now()
	start := now.AddDate(0, 0, -400)
	utms := [][3]string{
		{"facebook", "paid_social", "Spring Sale"}, {"ig", "paid_social", "spring_sale"}, {"fb", "cpc", "Retargeting - 30d"},
		{"google", "cpc", "Brand Search"}, {"google", "organic", ""}, {"youtube", "video", "Brand Search"},
		{"tiktok", "paid_social", "Spring Sale"}, {"", "", ""}, {"email", "newsletter", "weekly"}, {" FaceBook ", "x", "unknown"},
	}
	var orders []order
	var tieAt time.Time
	for i := range 900 {
		at := start.Add(time.Duration(r.Int64N(int64(now.Sub(start)))))
		switch r.IntN(10) {
		case 0: // the last second of a local day
			l := at.In(loc)
			at = time.Date(l.Year(), l.Month(), l.Day(), 23, 59, 59, 0, loc)
		case 1: // the first second of a local day
			l := at.In(loc)
			at = time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, loc)
		case 2: // several orders at the same instant, for keyset ties
			if !tieAt.IsZero() {
				at = tieAt
			}
			tieAt = at
		}
		if at.After(now) {
			at = now
		}
		o := order{id: fmt.Sprint(100000 + i), at: at, total: r.Int64N(300e6), status: "paid", lineItems: r.IntN(4)}
		if i%3 == 0 {
			o.shop = "second.myshopify.com"
		}
		switch n := r.IntN(10); {
		case n < 5:
			o.customer = fmt.Sprint("cust", r.IntN(150))
		case n < 8:
			o.email = fmt.Sprintf("%064d", r.IntN(80))
		}
		if r.IntN(12) == 0 {
			o.currency = "EUR"
		}
		if r.IntN(20) == 0 {
			o.test = true
		}
		if r.IntN(14) == 0 {
			o.cancelled = true
			o.status = "voided"
		}
		if r.IntN(7) == 0 {
			o.refunded = r.Int64N(o.total + 1)
			o.status = "partially_refunded"
		}
		u := utms[r.IntN(len(utms))]
		o.source, o.medium, o.campaign = u[0], u[1], u[2]
		orders = append(orders, o)
	}
	f.orders(ws, orders...)
	// The store's records of some customers: some with more orders than we hold, some with
	// an unknown count and an old account, some with emails that guest orders use.
	var custs []customer
	for i := range 150 {
		for _, shop := range []string{"shop.myshopify.com", "second.myshopify.com"} {
			if r.IntN(3) == 0 {
				continue
			}
			c := customer{shop: shop, id: fmt.Sprint("cust", i), created: start.Add(time.Duration(r.Int64N(int64(now.Sub(start))))),
				ordersCount: r.Int64N(8) - 1}
			if r.IntN(4) == 0 {
				c.created = start.AddDate(-1, 0, 0)
			}
			if r.IntN(3) == 0 {
				c.email = fmt.Sprintf("%064d", r.IntN(80))
			}
			custs = append(custs, c)
		}
	}
	f.customers(ws, custs...)

	var ads []ad
	var sessions []session
	for d := today.AddDate(0, 0, -400); !d.After(today); d = d.AddDate(0, 0, 1) {
		date := d.Format(time.DateOnly)
		for _, c := range [][3]string{
			{"meta", "10", "Spring Sale"}, {"meta", "10", "Retargeting - 30d"}, {"google_ads", "20", "Brand Search"},
			{"tiktok", "30", "Spring Sale"}, {"meta", "eu", "EU Push"},
		} {
			if r.IntN(5) == 0 {
				continue
			}
			cur := "USD"
			if c[1] == "eu" {
				cur = "EUR"
			}
			ads = append(ads, ad{channel: c[0], account: c[1], campaign: "id-" + c[2], name: c[2], date: date, currency: cur,
				spend: r.Int64N(500e6), impressions: r.Int64N(100000), clicks: r.Int64N(2000),
				conversions: fmt.Sprintf("%d.%06d", r.IntN(20), r.IntN(1e6)), value: r.Int64N(900e6)})
		}
		for _, src := range []string{"google", "facebook", "(direct)"} {
			if r.IntN(4) > 0 {
				sessions = append(sessions, session{date: date, source: src, sessions: r.Int64N(3000)})
			}
		}
	}
	f.ads(ws, ads...)
	f.sessions(ws, sessions...)
	return ws, today
}

// TestSummaryMatchesIndependentSQL compares every KPI input, current and previous, with
// the independent queries over ranges including today and single days.
func TestSummaryMatchesIndependentSQL(t *testing.T) {
	f := newFixture(t)
	ws, today := seedRandom(f)
	days := func(n int) time.Time { return today.AddDate(0, 0, n) }
	ranges := []channels.Window{
		{From: days(-29), To: days(0)}, // ends today
		{From: days(0), To: days(0)},   // today only
		{From: days(-1), To: days(-1)},
		{From: days(-6), To: days(0)},
		{From: days(-120), To: days(-60)},
		{From: days(-365), To: days(-200)},
		{From: days(-399), To: days(0)},
		{From: days(-1000), To: days(-900)}, // before any data
	}
	for _, w := range ranges {
		t.Run(w.String(), func(t *testing.T) {
			f := f.with(t)
			s, err := f.q.Summary(f.ctx, ws, w)
			if err != nil {
				t.Fatal(err)
			}
			if want := f.expect(ws, w); s.Current != want {
				t.Errorf("current\n got %+v\nwant %+v", s.Current, want)
			}
			if want := f.expect(ws, analytics.PreviousWindow(w)); s.Previous != want {
				t.Errorf("previous\n got %+v\nwant %+v", s.Previous, want)
			}
			if want := f.expectExcluded(ws, w); !slices.Equal(s.ExcludedCurrencies, want) {
				t.Errorf("excluded %v, want %v", s.ExcludedCurrencies, want)
			}
		})
	}
	// The data is rich enough for the comparisons to mean something.
	s, err := f.q.Summary(f.ctx, ws, ranges[0])
	if err != nil {
		t.Fatal(err)
	}
	if c := s.Current; c.Orders < 20 || c.NewCustomers == 0 || c.NewCustomers >= c.Orders || c.SpendMicros == 0 ||
		c.Sessions == 0 || s.Previous.Orders == 0 || !slices.Equal(s.ExcludedCurrencies, []string{"EUR"}) {
		t.Errorf("thin data: %+v", s)
	}
}

func TestTimeseries(t *testing.T) {
	f := newFixture(t)
	ws, today := seedRandom(f)
	cases := []struct {
		g    analytics.Granularity
		w    channels.Window
		want int // points
	}{
		{analytics.Day, channels.Window{From: today.AddDate(0, 0, -13), To: today}, 14},
		{analytics.Week, channels.Window{From: today.AddDate(0, 0, -60), To: today}, 0},
		{analytics.Month, channels.Window{From: today.AddDate(0, 0, -390), To: today.AddDate(0, 0, -20)}, 0},
		{analytics.Week, window(t, "2024-02-28", "2024-03-05"), 2},  // Wed..Tue: weeks of Feb 26 and Mar 4
		{analytics.Month, window(t, "2024-01-31", "2024-03-01"), 3}, // one day of January and of March
		{analytics.Day, window(t, "2020-01-01", "2020-01-03"), 3},   // empty, every bucket still present
	}
	for _, tc := range cases {
		t.Run(string(tc.g)+" "+tc.w.String(), func(t *testing.T) {
			f := f.with(t)
			ts, err := f.q.Timeseries(f.ctx, ws, tc.w, tc.g)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want != 0 && len(ts.Points) != tc.want {
				t.Fatalf("%d points, want %d", len(ts.Points), tc.want)
			}
			// The buckets tile the range: the first holds from, each starts the day after the
			// previous ends, the last holds to.
			var sum analytics.Totals
			for i, p := range ts.Points {
				if !p.Start.Equal(tc.g.Start(p.Start)) || !p.End.Equal(tc.g.End(p.Start)) {
					t.Errorf("point %d: %s..%s is not a %s", i, p.Start, p.End, tc.g)
				}
				if i == 0 && (p.Start.After(tc.w.From) || p.End.Before(tc.w.From)) {
					t.Errorf("first point %s..%s does not hold %s", p.Start, p.End, tc.w.From)
				}
				if i > 0 && !p.Start.Equal(ts.Points[i-1].End.AddDate(0, 0, 1)) {
					t.Errorf("point %d starts %s after %s", i, p.Start, ts.Points[i-1].End)
				}
				clipped := channels.Window{From: maxTime(p.Start, tc.w.From), To: minTime(p.End, tc.w.To)}
				if want := f.expect(ws, clipped); p.Totals != want {
					t.Errorf("point %s (%s)\n got %+v\nwant %+v", p.Start.Format(time.DateOnly), clipped, p.Totals, want)
				}
				sum = add(sum, p.Totals)
			}
			last := ts.Points[len(ts.Points)-1]
			if last.Start.After(tc.w.To) || last.End.Before(tc.w.To) {
				t.Errorf("last point %s..%s does not hold %s", last.Start, last.End, tc.w.To)
			}
			// Buckets add up to the range: each customer is new in exactly one bucket.
			if want := f.expect(ws, tc.w); sum != want {
				t.Errorf("sum of points %+v, range %+v", sum, want)
			}
		})
	}
	if _, err := f.q.Timeseries(f.ctx, ws, window(t, "2024-01-01", "2024-01-02"), "hour"); err == nil {
		t.Error("hourly time series succeeded")
	}
}

func add(a, b analytics.Totals) analytics.Totals {
	a.SpendMicros += b.SpendMicros
	a.Impressions += b.Impressions
	a.Clicks += b.Clicks
	a.ConversionsMicros += b.ConversionsMicros
	a.ConversionValueMicros += b.ConversionValueMicros
	a.RevenueMicros += b.RevenueMicros
	a.Orders += b.Orders
	a.NewCustomers += b.NewCustomers
	a.Sessions += b.Sessions
	return a
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
