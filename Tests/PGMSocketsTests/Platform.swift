import Glibc

func getProcessID() -> Int32 { getpid() }
func getUserID() -> UInt32 { geteuid() }
