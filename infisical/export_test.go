package infisical

// The product runs with the default retry policy and answer cap; the tests
// of package infisical_test shorten them through these.

// RetryPolicy names a retry policy for the tests.
type RetryPolicy = retryPolicy

// SetRetry replaces c's retry policy; zero fields keep their defaults.
func (c *Client) SetRetry(p RetryPolicy) { c.retry = p.withDefaults() }

// SetMaxBody replaces the cap on one answer.
func (c *Client) SetMaxBody(n int64) { c.maxBody = n }
