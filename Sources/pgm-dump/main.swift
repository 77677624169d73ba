import PGMCommandLine

// pgm-dump, the PGM capture inspector: everything lives in PGMCommandLine (`DumpCommand`), where tests run it.
PGMDump.main()
