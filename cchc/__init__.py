"""The command line (`cchc up`, `cchc migrate` …), the process supervisor and the gateway."""
