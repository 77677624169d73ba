import PGMCommandLine

// pgm-recv: everything lives in PGMCommandLine (`ReceiveCommand`), where tests run it.
PGMReceive.main()
