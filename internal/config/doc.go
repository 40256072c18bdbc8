// Package config owns Sesame's configuration: the Config struct, its
// defaults, loading it from a YAML file, SESAME_* environment variables and
// command-line flags (later sources override earlier ones), and Validate.
//
// The key names of the YAML file are part of the product's interface (issue
// "Sesame core", configuration example): change them only with a migration
// path for operators.
package config
