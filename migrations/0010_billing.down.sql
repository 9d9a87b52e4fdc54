DROP TABLE IF EXISTS billing_emails;
DROP TABLE IF EXISTS stripe_events;
DROP TABLE IF EXISTS billing_accounts;
