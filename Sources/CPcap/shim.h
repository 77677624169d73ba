// libpcap for PGMCapture (Debian/Ubuntu: libpcap-dev). Only PGMCapture imports this module.
#ifndef SWIFT_PGM_CPCAP_SHIM_H
#define SWIFT_PGM_CPCAP_SHIM_H
#include <pcap/pcap.h>
#include <stdio.h>
#endif
