package clock

import "time"

// MaxSkew is the largest difference between the clocks of two nodes of one
// deployment that Sesame tolerates (see the package documentation). NTP
// keeps servers within milliseconds of each other; the bound is far above
// that, and small against the shortest window nodes share, the 30 s
// rotation grace of session tokens.
const MaxSkew = 10 * time.Second
