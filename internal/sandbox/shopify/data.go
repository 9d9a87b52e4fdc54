package shopify

import (
	"encoding/base64"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/sandbox/catalog"
	"github.com/omnitrackiq/omnitrackiq/internal/sandbox/kit"
)

// Id ranges: every id is a pure function of the shop, the day and the position, so ids are
// stable across restarts and clocks.
const (
	orderIDBase       = 5_100_000_000_000
	lineIDBase        = 14_200_000_000_000
	customerIDBase    = 7_200_000_000_000
	refundIDBase      = 8_300_000_000_000
	transactionIDBase = 6_400_000_000_000
	// adminRefundIDBase numbers the refunds added through RefundOrder.
	adminRefundIDBase = 8_900_000_000_000
	shopID            = 60_180_000_001
	ordersPerDaySlot  = 100 // id space per day: at most 60 orders
	returningSlots    = 20  // a returning customer is the new customer of order 0..19 of a past day
	maxReturningDays  = 90
	centMicros        = 10_000
	// taxRate is New York City's sales tax in thousandths of a percent (8.875%).
	taxRate            = 8875
	freeShippingCents  = 7500
	shippingCents      = 695
	newsletterCampaign = "weekly_newsletter"
)

// epoch numbers the days: day numbers, and with them order ids, never depend on "now".
var epoch = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

func dayNumber(day time.Time) int64 { return int64(day.Sub(epoch).Hours() / 24) }

type product struct {
	id, variantID int64
	handle        string
	title         string
	variantTitle  string
	sku           string
	priceCents    int64
	grams         int64
}

// products is the store's small catalog.
func products() []product {
	return []product{
		{8_100_000_000_001, 45_100_000_000_001, "classic-tee", "Classic Tee", "Black / M", "TEE-BLK-M", 2800, 180},
		{8_100_000_000_002, 45_100_000_000_002, "classic-tee", "Classic Tee", "White / L", "TEE-WHT-L", 2800, 180},
		{8_100_000_000_003, 45_100_000_000_003, "everyday-hoodie", "Everyday Hoodie", "Grey / M", "HOOD-GRY-M", 6400, 620},
		{8_100_000_000_004, 45_100_000_000_004, "canvas-tote", "Canvas Tote", "Natural", "TOTE-NAT", 2200, 300},
		{8_100_000_000_005, 45_100_000_000_005, "wool-beanie", "Wool Beanie", "Navy", "BEAN-NVY", 2600, 90},
		{8_100_000_000_006, 45_100_000_000_006, "trail-runner", "Trail Runner Sneaker", "US 9", "SNK-TR-09", 11900, 800},
		{8_100_000_000_007, 45_100_000_000_007, "insulated-bottle", "Insulated Bottle", "750 ml", "BTL-750", 3400, 400},
		{8_100_000_000_008, 45_100_000_000_008, "gift-card", "Gift Card", "$50", "GIFT-50", 5000, 0},
	}
}

// hourWeights is the share of a day's orders per local hour.
var hourWeights = [24]int64{2, 1, 1, 1, 1, 2, 3, 5, 6, 7, 8, 8, 9, 9, 8, 8, 8, 9, 10, 11, 11, 9, 6, 4}

// seeded is an RNG seeded by the parts printed together, e.g. (shop, "|order|", id).
func seeded(parts ...any) kit.RNG { return kit.Seed(fmt.Sprint(parts...)) }

// genCustomer is a customer account.
type genCustomer struct {
	id        int64
	first     string
	last      string
	email     string
	createdAt time.Time
}

type genLine struct {
	id  int64
	p   product
	qty int64
}

// genRefund is a refund the generator schedules at a time; it exists once "now" reaches it.
type genRefund struct {
	id int64
	at time.Time
	// amountMicros is the refunded amount; lines lists the refunded line indexes.
	amountMicros int64
	lines        []int
	// failedFirst adds a failed refund transaction before the successful one.
	failedFirst bool
	note        string
}

// genOrder is an order's whole generated life: its creation and the times of the later events.
type genOrder struct {
	id        int64
	number    int64
	createdAt time.Time
	test      bool
	email     string // "" = no email
	customer  *genCustomer
	lines     []genLine

	discountCode  string
	discountCents int64
	linesCents    int64
	subtotalCents int64
	taxCents      int64
	shippingCents int64
	totalCents    int64

	landingSite   string
	referringSite string
	notes         [][2]string
	// utm is the effective (source, medium, campaign) the order carries, for Totals.
	utm [3]string

	settledAt   time.Time  // payment captured: the first update
	fulfilledAt *time.Time // fulfilled and closed
	cancelAt    *time.Time
	refunds     []genRefund

	// presentment is the currency the buyer saw and paid in ("" = the shop's currency), and
	// rateBP its price of one unit of shop currency in ten-thousandths: Shopify keeps both
	// amounts of every price in the *_set fields, and refund transactions move presentment money.
	presentment string
	rateBP      int64
}

// presentmentCurrencies are the foreign currencies buyers check out in, with a fixed rate
// per unit of shop currency (ten-thousandths).
var presentmentCurrencies = []struct {
	code   string
	rateBP int64
}{{"CAD", 13_650}, {"EUR", 9_210}, {"GBP", 7_890}}

// pickPresentment decides an order's checkout currency from its own seed, so adding it
// changed none of the other generated data.
func pickPresentment(shop string, id int64) (string, int64) {
	r := seeded(shop, "|presentment|", id)
	if !r.Percent(15) {
		return "", 0
	}
	c := presentmentCurrencies[r.Next()%uint64(len(presentmentCurrencies))]
	return c.code, c.rateBP
}

// dayTimes is when the orders of a day are created, in order: a pure function of the shop and
// the day, also used to date returning customers' accounts.
func dayTimes(shop string, day time.Time, loc *time.Location) []time.Time {
	r := seeded(shop, "|day|", day.Format(dateLayout))
	n := r.Between(20, 52)
	if wd := day.Weekday(); wd == time.Saturday || wd == time.Sunday {
		n += r.Between(0, 8)
	}
	var total int64
	for _, w := range hourWeights {
		total += w
	}
	y, m, d := day.Date()
	times := make([]time.Time, n)
	for i := range times {
		pick := r.Between(0, total-1)
		h := 0
		for ; h < 23 && pick >= hourWeights[h]; h++ {
			pick -= hourWeights[h]
		}
		times[i] = time.Date(y, m, d, h, int(r.Between(0, 59)), int(r.Between(0, 59)), 0, loc)
	}
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	return times
}

var firstNames = [...]string{"Ava", "Liam", "Mia", "Noah", "Zoe", "Ethan", "Lily", "Lucas", "Emma", "Mason", "Chloe", "Leo", "Nora", "Owen", "Ivy", "Jack"}
var lastNames = [...]string{"Smith", "Garcia", "Chen", "Patel", "Johnson", "Nguyen", "Brown", "Kim", "Lopez", "Davis", "Miller", "Wilson", "Clark", "Young"}

// customerFor is the customer whose account was opened by order slot `slot` of day dn.
func customerFor(shop string, dn int64, slot int, created time.Time) *genCustomer {
	key := dn*ordersPerDaySlot + int64(slot)
	r := seeded(shop, "|customer|", key)
	first := firstNames[r.Next()%uint64(len(firstNames))]
	last := lastNames[r.Next()%uint64(len(lastNames))]
	return &genCustomer{
		id:        customerIDBase + key,
		first:     first,
		last:      last,
		email:     fmt.Sprintf("%s.%s%d@example.com", strings.ToLower(first), strings.ToLower(last), key%9973),
		createdAt: created,
	}
}

// trafficSource decides where an order came from and how its UTMs reach Shopify.
type trafficSource struct {
	utm       [3]string
	referrer  string
	clickID   string // "fbclid=..." etc.
	viaNotes  bool   // UTMs only in note_attributes
	splitUTMs bool   // source and medium in landing_site, campaign only in note_attributes
}

func pickSource(r *kit.RNG) trafficSource {
	roll := r.Between(0, 99)
	switch {
	case roll < 55: // paid: the catalog's ad channels
		chans := catalog.AdChannels()
		w := r.Between(0, 99)
		ci := 0
		switch {
		case w < 45:
			ci = 0
		case w < 85:
			ci = 1
		default:
			ci = 2
		}
		if ci >= len(chans) {
			ci = len(chans) - 1
		}
		ch := chans[ci]
		src := ch.UTMSources[r.Next()%uint64(len(ch.UTMSources))]
		camp := ch.Campaigns[r.Next()%uint64(len(ch.Campaigns))]
		ts := trafficSource{utm: [3]string{src, ch.UTMMedium, camp.UTMCampaign}}
		token := base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatUint(r.Next(), 36)))
		switch ch.Channel {
		case "meta":
			ts.referrer, ts.clickID = "https://l.facebook.com/", "fbclid=IwAR"+token
			if src == "ig" {
				ts.referrer = "https://l.instagram.com/"
			}
		case "google_ads":
			ts.referrer, ts.clickID = "https://www.google.com/", "gclid=Cj0KCQ"+token
		case "tiktok":
			ts.referrer, ts.clickID = "https://www.tiktok.com/", "ttclid=E.C.P."+token
		}
		n := r.Between(0, 99)
		ts.viaNotes = n < 30
		ts.splitUTMs = n >= 30 && n < 40
		return ts
	case roll < 70: // organic search (catalog.Unpaid google/organic): a referrer, no UTMs
		return trafficSource{referrer: "https://www.google.com/"}
	case roll < 80: // the newsletter
		src, medium := "newsletter", "email"
		for _, u := range catalog.Unpaid {
			if u[1] == "email" {
				src, medium = u[0], u[1]
			}
		}
		return trafficSource{utm: [3]string{src, medium, newsletterCampaign}, viaNotes: r.Percent(30)}
	default: // direct: no referrer, no UTMs
		return trafficSource{}
	}
}

// genDay generates the orders created on a calendar day (UTC midnight of the date) in the
// shop's timezone, with their whole future: a pure function of the shop and the day.
func genDay(shop string, day time.Time, loc *time.Location) []*genOrder {
	dn := dayNumber(day)
	times := dayTimes(shop, day, loc)
	prods := products()
	out := make([]*genOrder, len(times))
	for i, created := range times {
		id := orderIDBase + dn*ordersPerDaySlot + int64(i)
		r := seeded(shop, "|order|", id)
		o := &genOrder{id: id, number: 1001 + dn*ordersPerDaySlot + int64(i), createdAt: created}
		o.test = r.Percent(2)
		o.presentment, o.rateBP = pickPresentment(shop, id)

		// Customer: a guest, a returning customer (opened by an order of a past day), or new.
		switch c := r.Between(0, 99); {
		case c < 12:
			if !r.Percent(8) {
				gr := seeded(shop, "|guest|", id)
				o.email = fmt.Sprintf("%s.%s%d@example.net",
					strings.ToLower(firstNames[gr.Next()%uint64(len(firstNames))]),
					strings.ToLower(lastNames[gr.Next()%uint64(len(lastNames))]), id%997)
			}
		case c < 47:
			back := r.Between(1, maxReturningDays)
			slot := int(r.Between(0, returningSlots-1))
			pastDay := day.AddDate(0, 0, -int(back))
			o.customer = customerFor(shop, dn-back, slot, dayTimes(shop, pastDay, loc)[slot])
		default:
			o.customer = customerFor(shop, dn, i, created)
		}
		if o.customer == nil && o.email != "" {
			// A guest checkout with the email of an existing account (the buyer did not
			// log in): the email hash joins it to the account. Its own seed, so nothing
			// else generated changes.
			gr := seeded(shop, "|guest-account|", id)
			if gr.Percent(30) {
				back := gr.Between(1, maxReturningDays)
				slot := int(gr.Between(0, returningSlots-1))
				o.email = customerFor(shop, dn-back, slot, dayTimes(shop, day.AddDate(0, 0, -int(back)), loc)[slot]).email
			}
		}
		if o.customer != nil {
			o.email = o.customer.email
			if r.Percent(8) { // typed differently at checkout: the hash must not care
				o.email = strings.ToUpper(o.email[:1]) + o.email[1:] + " "
			}
		}

		// Line items: 1-3 distinct products.
		nLines := 1 + int(r.Between(0, 99)/60) + int(r.Between(0, 99)/90)
		start := int(r.Next() % uint64(len(prods)))
		for k := 0; k < nLines; k++ {
			p := prods[(start+k*3)%len(prods)]
			qty := int64(1)
			if r.Percent(12) {
				qty = 2
			}
			o.lines = append(o.lines, genLine{id: lineIDBase + (id-orderIDBase)*10 + int64(k), p: p, qty: qty})
			o.linesCents += p.priceCents * qty
		}
		if r.Percent(20) {
			o.discountCode = "WELCOME10"
			o.discountCents = (o.linesCents*10 + 50) / 100
		}
		o.subtotalCents = o.linesCents - o.discountCents
		o.taxCents = (o.subtotalCents*taxRate + 50_000) / 100_000
		if o.subtotalCents < freeShippingCents {
			o.shippingCents = shippingCents
		}
		o.totalCents = o.subtotalCents + o.taxCents + o.shippingCents

		// Traffic.
		ts := pickSource(&r)
		o.utm = ts.utm
		o.referringSite = ts.referrer
		path := "/"
		if r.Percent(60) {
			path = "/products/" + o.lines[0].p.handle
		}
		var query []string
		if ts.utm[0] != "" && !ts.viaNotes {
			query = append(query, "utm_source="+ts.utm[0], "utm_medium="+ts.utm[1])
			if !ts.splitUTMs {
				query = append(query, "utm_campaign="+ts.utm[2])
				if ts.clickID != "" {
					query = append(query, "utm_content=ad_"+strconv.FormatInt(r.Between(1, 4), 10))
				}
			}
		}
		if ts.clickID != "" {
			query = append(query, ts.clickID)
		}
		o.landingSite = path
		if len(query) > 0 {
			o.landingSite += "?" + strings.Join(query, "&")
		}
		if ts.utm[0] != "" && ts.viaNotes {
			o.notes = append(o.notes, [2]string{"utm_source", ts.utm[0]}, [2]string{"utm_medium", ts.utm[1]}, [2]string{"utm_campaign", ts.utm[2]})
		}
		if ts.splitUTMs {
			o.notes = append(o.notes, [2]string{"utm_campaign", ts.utm[2]})
		}
		if ts.clickID != "" && ts.viaNotes {
			k, v, _ := strings.Cut(ts.clickID, "=")
			o.notes = append(o.notes, [2]string{k, v})
		}

		// Later life: payment settles within minutes; then a cancellation, or fulfilment
		// (which closes the order) and maybe a refund days later.
		o.settledAt = created.Add(time.Duration(r.Between(20, 600)) * time.Second)
		switch {
		case r.Percent(3):
			t := created.Add(time.Duration(r.Between(30, 36*60)) * time.Minute)
			o.cancelAt = &t
		default:
			f := created.Add(time.Duration(r.Between(18*60, 72*60)) * time.Minute)
			o.fulfilledAt = &f
			if r.Percent(5) {
				rf := genRefund{
					id:          refundIDBase + (id-orderIDBase)*10,
					at:          f.Add(time.Duration(r.Between(24, 10*24)) * time.Hour),
					failedFirst: r.Percent(20),
					note:        "Customer return",
				}
				if len(o.lines) > 1 && r.Percent(50) {
					l := o.lines[len(o.lines)-1]
					rf.lines = []int{len(o.lines) - 1}
					rf.amountMicros = l.p.priceCents * l.qty * centMicros
				} else {
					for k := range o.lines {
						rf.lines = append(rf.lines, k)
					}
					rf.amountMicros = o.totalCents * centMicros
				}
				o.refunds = append(o.refunds, rf)
			}
		}
		out[i] = o
	}
	return out
}
