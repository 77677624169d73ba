import PGMCommandLine

// pgm-ne: everything lives in PGMCommandLine (`NetworkElementCommand`), where tests run it.
PGMNetworkElement.main()
