import PGMCommandLine

// pgm-chat: everything lives in PGMCommandLine (`ChatCommand`), where tests run it.
PGMChat.main()
