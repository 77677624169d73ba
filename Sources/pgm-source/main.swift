import PGMCommandLine

// pgm-source: everything lives in PGMCommandLine (`SourceCommand`), where tests run it.
PGMSource.main()
