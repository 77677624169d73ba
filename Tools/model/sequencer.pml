/*
 * total-sequencer (Docs/ordering.md): N members, each multicasts M messages; the smallest member of the view
 * orders every message it holds and multicasts ORDER; members deliver in global order once they hold the payload.
 * With CRASH=1 the member X may crash at any point; survivors detect it (nondeterministically, eventually), run the
 * FLUSH/RELAY view change and a fresh sequencer (the smallest survivor) orders what is left.
 *
 * Abstractions (Docs/ordering-verification.md): PGM is a reliable FIFO channel per sender -> receiver; a multicast
 * puts one frame into each receiver's channel at once; a crash freezes X and each survivor reads an arbitrary
 * prefix of what X sent it (the rest is cut when that survivor enters the flush); ORDER carries one message (a
 * batch is one frame, so batches only remove cut points); a member hears itself without the network.
 *
 * Macros: N (members, 3 or 4), M (messages per member at most, 2), M0..M3 (messages member s sends, M), CRASH (0:
 * nobody crashes, 1: X crashes at some point), X (the member that may crash, 0 = the first sequencer).
 * Negative checks (each must make spin fail): NORELAY (the relayer does not relay), DROPFUTURE (ORDER frames of the
 * next view arriving before a member installed it are dropped instead of kept), ORDERCUT (the new sequencer orders
 * the removed member's messages beyond the cut), NOSTOP (a flushing member goes on delivering old-view orders).
 */
#ifndef N
#define N 3
#endif
#ifndef M
#define M 2
#endif
#ifndef CRASH
#define CRASH 1
#endif
#ifndef X
#define X 0
#endif
#if N != 3 && N != 4
#error "the model spells out three or four members"
#endif
#ifndef M0
#define M0 M
#endif
#ifndef M1
#define M1 M
#endif
#ifndef M2
#define M2 M
#endif
#ifndef M3
#define M3 M
#endif
#define MS(s) ((s) == 0 -> M0 : ((s) == 1 -> M1 : ((s) == 2 -> M2 : M3)))   /* messages member s sends (<= M) */
#define T (N * M)                 /* message identifiers (and global positions) */
#define CAP (3 * T + 4)           /* frames one channel can hold: DATA, ORDERs of two views, FLUSH, RELAYs */
#define ID(s, q) ((s) * M + (q) - 1)
#define SND(i) ((i) / M)
#define SQ(i) ((i) % M + 1)
#define BIT(i) (1 << (i))
#define LIVE(k) (!(CRASH && (k) == X))       /* a member that survives (with CRASH, everyone but X) */

/* Frames: DATA(message), ORDER1/ORDER2(global, message) of view 1/2, FLUSH(deliveredCount) (view 2, removed {X}),
   RELAY(global, message) (view 2); (global, message) packed as global * 16 + message. */
mtype = { DATA, ORDER1, ORDER2, FLUSH, RELAY };
#define PK(g, i) ((g) * 16 + (i))
#define CH(s, r) ((s) * (N - 1) + ((r) < (s) -> (r) : (r) - 1))   /* the channel s -> r (s != r) */

chan ch[N * (N - 1)] = [CAP] of { mtype, byte };

bit crashed;
byte sent[N];                 /* messages member s multicast */
int have[N];                  /* payloads member r holds (bit per message) */
byte dcount[N];               /* messages member r delivered */
byte dseq[N * N];             /* dseq[r * N + s]: s's messages that r delivered */
byte log[N * T];              /* log[r * T + g - 1]: message delivered at global g, plus one */
byte decided[T];              /* message first delivered at global g by a survivor, plus one */
byte st[N];                   /* 0: view 1, 1: flushing into view 2, 2: view 2 installed */
byte ord[N * T];              /* ord[r * T + g - 1]: ORDER of r's view for g, plus one */
byte pord[N * T];             /* ORDER frames of view 2 that arrived while r was still flushing */
byte fl[N * N];               /* fl[r * N + k]: deliveredCount in k's FLUSH, plus one (0: none yet) */
byte fcount[N];               /* FLUSH frames r has (its own included) ... */
byte fmax[N];                 /* ... and the largest deliveredCount in them */
byte seqr[N];                 /* r's sequencer */
byte gcnt[N];                 /* globals sequencer r assigned */
byte ocnt[N * N];             /* ocnt[r * N + s]: s's messages sequencer r ordered */

/* A multicast from `me`: one frame into every other member's channel (none into a crashed member's). */
inline mcast(me, t, a) {
  k = 0;
  do
  :: k < N ->
     if
     :: k != me && !(crashed && k == X) -> assert(nfull(ch[CH(me, k)])); ch[CH(me, k)]!t, a
     :: else
     fi;
     k++
  :: else -> break
  od;
  k = 0
}

/* Member r delivers message i (a variable: inline arguments are substituted as text) at its next global position;
   checks integrity, per-sender FIFO and agreement. */
inline deliver(r, i) {
  assert(SQ(i) <= sent[SND(i)]);                       /* only sent messages */
  assert(dseq[r * N + SND(i)] == SQ(i) - 1);           /* per sender FIFO, each message once */
  dseq[r * N + SND(i)]++;
  dcount[r]++;
  printf("member %d delivers message %d.%d at global %d\n", r, SND(i), SQ(i), dcount[r]);
  log[r * T + dcount[r] - 1] = i + 1;
  if
  :: LIVE(r) ->                                        /* survivors agree on every position */
     if
     :: decided[dcount[r] - 1] == 0 -> decided[dcount[r] - 1] = i + 1
     :: else -> assert(decided[dcount[r] - 1] == i + 1)
     fi
  :: else
  fi
}

/* r stops delivering and multicasts FLUSH(view 2, removed {X}, deliveredCount); X's frames not yet read are cut. */
inline startFlush(r) {
  do
  :: nempty(ch[CH(X, r)]) -> ch[CH(X, r)]?_, _
  :: empty(ch[CH(X, r)]) -> break
  od;
  st[r] = 1;
  printf("member %d FLUSH(view 2, delivered %d)\n", r, dcount[r]);
  fl[r * N + r] = dcount[r] + 1;
  fcount[r]++;
  if :: dcount[r] > fmax[r] -> fmax[r] = dcount[r] :: else fi;
  mcast(r, FLUSH, dcount[r])
}

/* The sequencer r may order s's next message: it holds it (and, in view 2, s was not removed). */
#ifdef ORDERCUT
#define CANORDER(r, s) (seqr[r] == r && st[r] != 1 && ocnt[r * N + s] < MS(s) && \
                        (have[r] & BIT(ID(s, ocnt[r * N + s] + 1))))
#else
#define CANORDER(r, s) (seqr[r] == r && st[r] != 1 && ocnt[r * N + s] < MS(s) && !(st[r] == 2 && CRASH && s == X) && \
                        (have[r] & BIT(ID(s, ocnt[r * N + s] + 1))))
#endif

inline orderNext(r, s) {
  gcnt[r]++;
  ocnt[r * N + s]++;
  ord[r * T + gcnt[r] - 1] = ID(s, ocnt[r * N + s]) + 1;
  printf("member %d ORDER(view %d, global %d, message %d.%d)\n", r, st[r] / 2 + 1, gcnt[r], s, ocnt[r * N + s]);
  if
  :: st[r] == 0 -> mcast(r, ORDER1, PK(gcnt[r], ID(s, ocnt[r * N + s])))
  :: else -> mcast(r, ORDER2, PK(gcnt[r], ID(s, ocnt[r * N + s])))
  fi
}

/* The sequencer orders every message it holds as soon as it can (at the event that made it orderable: a batch of
   one per poll; waiting longer is the same as the frame arriving later). */
inline orderAll(r) {
  if
  :: seqr[r] == r && st[r] != 1 ->
     o = 0;
     do
     :: o < N && CANORDER(r, o) -> orderNext(r, o)
     :: o < N && !CANORDER(r, o) -> o++
     :: else -> break
     od;
     o = 0
  :: else
  fi
}

/* A frame from member s (Docs/ordering.md: frames of a removed member's session beyond the cut never arrive). */
inline handle(r, s) {
  if
  :: t == DATA ->
     if
     :: CRASH && st[r] == 2 && s == X -> skip          /* a removed member's message: dropped */
     :: else -> have[r] = have[r] | BIT(a); orderAll(r)
     fi
  :: t == ORDER1 ->
     if
     :: st[r] == 0 -> ord[r * T + a / 16 - 1] = a % 16 + 1
#ifdef NOSTOP
     :: st[r] == 1 -> ord[r * T + a / 16 - 1] = a % 16 + 1
#endif
     :: else                                                /* an older view's: ignored */
     fi
  :: t == ORDER2 ->
     if
     :: st[r] == 2 -> ord[r * T + a / 16 - 1] = a % 16 + 1
#ifndef DROPFUTURE
     :: else -> pord[r * T + a / 16 - 1] = a % 16 + 1       /* the next view's, not installed yet: kept */
#else
     :: else -> printf("member %d drops ORDER(view 2, global %d) (view 2 not installed yet)\n", r, a / 16)
#endif
     fi
  :: t == FLUSH ->
     if
     :: st[r] == 0 -> startFlush(r)                          /* join the view change */
     :: else
     fi;
     fl[r * N + s] = a + 1;
     fcount[r]++;
     if :: a > fmax[r] -> fmax[r] = a :: else fi
  :: t == RELAY ->
     if
     :: st[r] == 1 && a / 16 == dcount[r] + 1 -> printf("member %d takes the relay of global %d\n", r, a / 16); a = a % 16; deliver(r, a)
     :: else
     fi
  fi;
  t = 0; a = 0
}

#define FL(r, k) (LIVE(k) -> fl[(r) * N + (k)] - 1 : 0)
#define MAX2(a, b) ((a) > (b) -> (a) : (b))

proctype Member(byte r) {
  mtype t; byte a, k, o, g, mx, mn;
end:
  do
  /* the application submits a message (any time, also during the flush) */
  :: atomic { sent[r] < MS(r) && !(crashed && r == X) ->
       sent[r]++; have[r] = have[r] | BIT(ID(r, sent[r])); printf("member %d sends message %d.%d\n", r, r, sent[r]); mcast(r, DATA, ID(r, sent[r])); orderAll(r) }

  /* X crashes: it stops; what it sent stays in flight (each survivor reads a prefix of it) */
  :: atomic { CRASH && r == X && !crashed ->
       crashed = 1;
       printf("member %d crashes\n", r);
       k = 0;
       do
       :: k < N && k != X -> do :: nempty(ch[CH(k, X)]) -> ch[CH(k, X)]?_, _ :: empty(ch[CH(k, X)]) -> break od; k++
       :: k == X -> k++
       :: else -> break
       od;
       k = 0;
       break }

  /* a survivor's PGM session for X expires (it may take any time, but it happens) */
  :: atomic { crashed && r != X && st[r] == 0 -> startFlush(r) }


  /* deliver the next global message once it is ordered and its payload is here */
  :: atomic { (st[r] != 1
#ifdef NOSTOP
               || 1
#endif
              ) && dcount[r] < T && ord[r * T + dcount[r]] != 0 && (have[r] & BIT(ord[r * T + dcount[r]] - 1)) ->
       a = ord[r * T + dcount[r]] - 1; deliver(r, a); a = 0 }

  /* the flush completes at r (a FLUSH from every survivor) once r has the largest deliveredCount (it is
     the relayer, or the relay arrived): the relayer relays what the most behind survivor lacks; r installs
     view 2, whose sequencer (the smallest survivor) orders on from global max + 1 */
  :: atomic { st[r] == 1 && fcount[r] == N - 1 && dcount[r] == fmax[r] ->
       mx = dcount[r];
       mn = 255; k = 0;
       do
       :: k < N -> if :: LIVE(k) && FL(r, k) < mn -> mn = FL(r, k) :: else fi; k++
       :: else -> break
       od;
       k = 0;
       do
       :: k < N && !(LIVE(k) && FL(r, k) == mx) -> k++
       :: else -> break
       od;
#ifndef NORELAY
       if
       :: k == r && mn < mx ->
          g = mn + 1;
          do
          :: g <= mx -> printf("member %d RELAY global %d\n", r, g); mcast(r, RELAY, PK(g, log[r * T + g - 1] - 1)); g++
          :: else -> break
          od
       :: else
       fi;
#endif
       g = mx;
       do
       :: g < T -> ord[r * T + g] = pord[r * T + g]; pord[r * T + g] = 0; g++
       :: else -> break
       od;
       k = 0;
       do
       :: k < N && !LIVE(k) -> k++
       :: else -> break
       od;
       seqr[r] = k;
       if
       :: k == r ->
          gcnt[r] = mx;
          g = 0;
          do
          :: g < N -> ocnt[r * N + g] = dseq[r * N + g]; g++
          :: else -> break
          od
       :: else
       fi;
       printf("member %d installs view 2 from global %d, sequencer %d\n", r, mx + 1, seqr[r]);
       k = 0; g = 0; mx = 0; mn = 0;
       st[r] = 2;
       orderAll(r) }

  /* a frame from another member */
  :: atomic { r != 0 && nempty(ch[CH(0, r)]) -> ch[CH(0, r)]?t, a; handle(r, 0) }
  :: atomic { r != 1 && nempty(ch[CH(1, r)]) -> ch[CH(1, r)]?t, a; handle(r, 1) }
  :: atomic { r != 2 && nempty(ch[CH(2, r)]) -> ch[CH(2, r)]?t, a; handle(r, 2) }
#if N > 3
  :: atomic { r != 3 && nempty(ch[CH(3, r)]) -> ch[CH(3, r)]?t, a; handle(r, 3) }
#endif
  od
}

/* Every terminal state: survivors installed the same view, delivered every survivor's message, the same log. */
active proctype Check() {
  byte r, s, g;
  timeout ->
  atomic {
    r = 0;
    do
    :: r < N ->
       if
       :: LIVE(r) ->
          assert(st[r] == (CRASH -> 2 : 0));
          s = 0;
          do
          :: s < N -> assert(!LIVE(s) || dseq[r * N + s] == MS(s)); s++
          :: else -> break
          od;
          assert(dcount[r] == dcount[(X + 1) % N]);
          g = 0;
          do
          :: g < dcount[r] -> assert(log[r * T + g] == log[((X + 1) % N) * T + g]); g++
          :: else -> break
          od
       :: else
       fi;
       r++
    :: else -> break
    od
  }
}

init {
  atomic {
    run Member(0);
    run Member(1);
    run Member(2);
#if N > 3
    run Member(3);
#endif
  }
}
