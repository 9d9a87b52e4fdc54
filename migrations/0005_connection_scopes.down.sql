ALTER TABLE connections DROP COLUMN access_scopes;
