/*
 * total-isis (Docs/ordering.md): N = 3 members, member s multicasts MS(s) messages. On every message a member
 * proposes (counter + 1, me), counter being the largest priority it proposed or saw agreed; the sender, once every
 * member of the view proposed, multicasts FINAL with the maximum (ties: the larger proposer); a member delivers the
 * head of its queue, ordered by (priority, proposer) over finals and its own proposals alike, when the head is
 * final. With CRASH=1 member X may crash at any point; the survivors run the FLUSH/RELAY view change as in
 * sequencer.pml, and a fresh ISIS of view 2 (counters from 0) orders the survivors' messages nobody delivered.
 *
 * Abstractions (Docs/ordering-verification.md): PGM is a reliable FIFO channel per sender -> receiver; a multicast
 * puts one frame into each receiver's channel at once; PROPOSE goes only to the message's sender (the others ignore
 * it); each frame carries one message (a batch is one frame); a member hears itself without the network; delivery
 * is immediate once the head is final; a crash freezes X and each survivor reads an arbitrary prefix of what X sent
 * it. At install a member proposes for the messages it holds in identifier order (each sender's in its order).
 *
 * Macros: M (messages per member, 2) or M0, M1, M2 each; CRASH (0), X (the member that may crash, 0).
 * Negative checks (each must make spin fail): PROPOSEDHEAD (the head is delivered when only proposed), SMALLTIE
 * (FINAL breaks ties towards the smaller proposer), NOAGREED (the counter ignores agreed priorities); with CRASH,
 * NORELAY (the relayer does not relay) and DROPFUTURE (a view-2 PROPOSE reaching the sender before it installed
 * view 2 is dropped).
 * A message that someone delivered was proposed for, hence received, by every member of the view, so the relay
 * only makes up for FINALs that were cut: a behind survivor always holds the payload.
 */
#define N 3
#ifndef M
#define M 2
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
#ifndef CRASH
#define CRASH 0
#endif
#ifndef X
#define X 0
#endif
#define MS(s) ((s) == 0 -> M0 : ((s) == 1 -> M1 : M2))
#define T (N * M)
#define CAP (3 * M + T + 2)        /* s -> r: DATA, FINALs, PROPOSEs of two views, FLUSH, RELAYs */
#define ID(s, q) ((s) * M + (q) - 1)
#define SND(i) ((i) / M)
#define SQ(i) ((i) % M + 1)
#define BIT(i) (1 << (i))
#define CH(s, r) ((s) * (N - 1) + ((r) < (s) -> (r) : (r) - 1))
#define LIVE(k) (!(CRASH && (k) == X))
#define NV(r) (st[r] == 2 -> N - 1 : N)   /* members of r's view */
/* (p, q) < (p2, q2) in the queue's order */
#define LESS(p, q, p2, q2) ((p) < (p2) || ((p) == (p2) && (q) < (q2)))

/* DATA(id), PROP1/PROP2(id, priority) of view 1/2, FIN1/FIN2(id, priority, proposer), FLUSH(deliveredCount),
   RELAY(global, id) */
mtype = { DATA, PROP1, PROP2, FIN1, FIN2, FLUSH, RELAY };

chan ch[N * (N - 1)] = [CAP] of { mtype, byte, byte, byte };

bit crashed;
byte sent[N];
int have[N];                  /* payloads r holds */
byte counter[N];              /* largest priority r proposed or saw agreed in its view */
byte stat[N * T];             /* stat[r * T + i]: 0 not in the queue, 1 proposed, 2 final, 3 delivered */
byte pri[N * T];              /* r's key for i: priority ... */
byte pro[N * T];              /* ... and proposer */
byte pc[T];                   /* at i's sender, in its view: proposals collected, the maximum, its proposer */
byte mp[T];
byte mpp[T];
byte pp[T * N];               /* pp[i * N + k]: k's view-2 proposal for i (plus one), before i's sender installed */
byte st[N];                   /* 0: view 1, 1: flushing into view 2, 2: view 2 installed */
byte fl[N * N];               /* fl[r * N + k]: deliveredCount in k's FLUSH, plus one */
byte dcount[N];
byte dseq[N * N];
byte log[N * T];
byte decided[T];

inline mcast(me, t, a, b, c) {
  k = 0;
  do
  :: k < N -> if :: k != me && !(crashed && k == X) -> assert(nfull(ch[CH(me, k)])); ch[CH(me, k)]!t, a, b, c
              :: else fi; k++
  :: else -> break
  od;
  k = 0
}

/* r delivers message i (a variable: inline arguments are substituted as text) at its next position */
inline deliver(r, i) {
  assert(SQ(i) <= sent[SND(i)]);                     /* only sent messages */
  assert(dseq[r * N + SND(i)] == SQ(i) - 1);         /* per sender FIFO, each message once */
  dseq[r * N + SND(i)]++;
  stat[r * T + i] = 3;
  dcount[r]++;
  printf("member %d delivers message %d.%d at position %d\n", r, SND(i), SQ(i), dcount[r]);
  log[r * T + dcount[r] - 1] = i + 1;
  if
  :: LIVE(r) ->
     if
     :: decided[dcount[r] - 1] == 0 -> decided[dcount[r] - 1] = i + 1
     :: else -> assert(decided[dcount[r] - 1] == i + 1)   /* the same message at every position */
     fi
  :: else
  fi
}

/* r applies FINAL(i, p, q) and delivers every final head */
inline final(r, i, p, q) {
  assert(stat[r * T + i] == 1);
  stat[r * T + i] = 2;
  printf("member %d: message %d.%d final (%d, %d)\n", r, SND(i), SQ(i), p, q);
  pri[r * T + i] = p;
  pro[r * T + i] = q;
#ifndef NOAGREED
  if :: p > counter[r] -> counter[r] = p :: else fi;
#endif
  do
  :: true ->
     h = 255; j = 0;
     do
     :: j < T ->
        if
        :: (stat[r * T + j] == 1 || stat[r * T + j] == 2) &&
           (h == 255 || LESS(pri[r * T + j], pro[r * T + j], pri[r * T + h], pro[r * T + h])) -> h = j
        :: else
        fi;
        j++
     :: else -> break
     od;
     if
#ifdef PROPOSEDHEAD
     :: h != 255 && stat[r * T + h] >= 1 -> deliver(r, h)
#else
     :: h != 255 && stat[r * T + h] == 2 -> deliver(r, h)
#endif
     :: else -> break
     fi
  od;
  h = 0; j = 0
}

/* the sender r of i collects proposal (p, q); with every view member's, it multicasts FINAL and applies it */
inline collect(r, i, p, q) {
  pc[i]++;
#ifdef SMALLTIE
  if :: p > mp[i] || (p == mp[i] && q < mpp[i]) -> mp[i] = p; mpp[i] = q :: else fi;
#else
  if :: p > mp[i] || (p == mp[i] && q > mpp[i]) -> mp[i] = p; mpp[i] = q :: else fi;
#endif
  if
  :: pc[i] == NV(r) ->
     if
     :: st[r] == 0 -> mcast(r, FIN1, i, mp[i], mpp[i])
     :: else -> mcast(r, FIN2, i, mp[i], mpp[i])
     fi;
     final(r, i, mp[i], mpp[i])
  :: else
  fi
}

/* r proposes (counter + 1, r) for i, in its view: its own message it collects, another's goes to the sender */
inline propose(r, i) {
  counter[r]++;
  stat[r * T + i] = 1;
  pri[r * T + i] = counter[r];
  pro[r * T + i] = r;
  printf("member %d proposes (%d, %d) for message %d.%d\n", r, counter[r], r, SND(i), SQ(i));
  if
  :: SND(i) == r -> b = counter[r]; c = r; collect(r, i, b, c); b = 0; c = 0
  :: SND(i) != r && st[r] == 0 -> assert(nfull(ch[CH(r, SND(i))])); ch[CH(r, SND(i))]!PROP1, i, counter[r], r
  :: SND(i) != r && st[r] == 2 -> assert(nfull(ch[CH(r, SND(i))])); ch[CH(r, SND(i))]!PROP2, i, counter[r], r
  fi
}

inline startFlush(r) {
  do
  :: nempty(ch[CH(X, r)]) -> ch[CH(X, r)]?_, _, _, _
  :: empty(ch[CH(X, r)]) -> break
  od;
  st[r] = 1;
  printf("member %d FLUSH(view 2, delivered %d)\n", r, dcount[r]);
  fl[r * N + r] = dcount[r] + 1;
  mcast(r, FLUSH, dcount[r], 0, 0)
}

#define FL(r, k) (LIVE(k) -> fl[(r) * N + (k)] - 1 : 0)
#define MAX2(a, b) ((a) > (b) -> (a) : (b))
#define MAXFL(r) MAX2(FL(r, 0), MAX2(FL(r, 1), FL(r, 2)))
#define ALLFL(r) ((fl[(r) * N] != 0 || !LIVE(0)) && (fl[(r) * N + 1] != 0 || !LIVE(1)) && \
                  (fl[(r) * N + 2] != 0 || !LIVE(2)))

proctype Member(byte r) {
  mtype t; byte a, b, c, f, k, h, j, i, g, mx, mn;
end:
  do
  /* the application submits a message (during the flush it waits in the queue for view 2) */
  :: atomic { sent[r] < MS(r) && !(crashed && r == X) ->
       sent[r]++; i = ID(r, sent[r]);
       printf("member %d sends message %d.%d\n", r, r, sent[r]);
       have[r] = have[r] | BIT(i);
       mcast(r, DATA, i, 0, 0);
       if :: st[r] != 1 -> propose(r, i) :: else fi;
       i = 0 }

  /* X crashes: it stops; what it sent stays in flight (each survivor reads a prefix of it) */
  :: atomic { CRASH && r == X && !crashed ->
       crashed = 1;
       printf("member %d crashes\n", r);
       k = 0;
       do
       :: k < N && k != X -> do :: nempty(ch[CH(k, X)]) -> ch[CH(k, X)]?_, _, _, _ :: empty(ch[CH(k, X)]) -> break od; k++
       :: k == X -> k++
       :: else -> break
       od;
       k = 0;
       goto dead }

  /* a survivor's PGM session for X expires (it may take any time, but it happens) */
  :: atomic { crashed && r != X && st[r] == 0 -> startFlush(r) }

  /* the flush completes at r once it delivered max (as relayer, or through the relay): install view 2 */
  :: atomic { st[r] == 1 && ALLFL(r) && dcount[r] == MAXFL(r) ->
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
          :: g <= mx -> printf("member %d RELAY global %d\n", r, g); mcast(r, RELAY, g, log[r * T + g - 1] - 1, 0); g++
          :: else -> break
          od
       :: else
       fi;
#endif
       printf("member %d installs view 2 after %d messages\n", r, mx);
       st[r] = 2;
       counter[r] = 0;                              /* a fresh strategy */
       i = 0;
       do
       :: i < T ->
          if :: stat[r * T + i] != 3 -> stat[r * T + i] = 0; pri[r * T + i] = 0; pro[r * T + i] = 0 :: else fi;
          if :: SND(i) == r -> pc[i] = 0; mp[i] = 0; mpp[i] = 0 :: else fi;
          i++
       :: else -> break
       od;
       i = 0;                                       /* the messages it holds that nobody delivered */
       do
       :: i < T ->
          if
          :: SND(i) != X && (have[r] & BIT(i)) && stat[r * T + i] == 0 -> propose(r, i)
          :: else
          fi;
          i++
       :: else -> break
       od;
       i = 0;                                       /* view-2 proposals that came before r installed */
       do
       :: i < T ->
          g = 0;
          do
          :: g < N ->
             if
             :: pp[i * N + g] != 0 -> a = pp[i * N + g] - 1; pp[i * N + g] = 0; b = g; collect(r, i, a, b); a = 0; b = 0
             :: else
             fi;
             g++
          :: else -> break
          od;
          i++
       :: else -> break
       od;
       i = 0; k = 0; g = 0; mx = 0; mn = 0 }

  :: atomic { r != 0 && nempty(ch[CH(0, r)]) -> ch[CH(0, r)]?t, a, b, c; f = 0; goto handle }
  :: atomic { r != 1 && nempty(ch[CH(1, r)]) -> ch[CH(1, r)]?t, a, b, c; f = 1; goto handle }
  :: atomic { r != 2 && nempty(ch[CH(2, r)]) -> ch[CH(2, r)]?t, a, b, c; f = 2; goto handle }
  od;
handle:
  atomic {
    if
    :: t == DATA ->
       if
       :: CRASH && st[r] == 2 && f == X -> skip          /* a removed member's message: dropped */
       :: else -> have[r] = have[r] | BIT(a); if :: st[r] != 1 -> i = a; propose(r, i); i = 0 :: else fi
       fi
    :: t == PROP1 -> if :: st[r] == 0 -> assert(SND(a) == r); i = a; collect(r, i, b, c); i = 0 :: else fi
    :: t == PROP2 ->
       if
       :: st[r] == 2 -> i = a; collect(r, i, b, c); i = 0
#ifndef DROPFUTURE
       :: else -> pp[a * N + c] = b + 1                    /* view 2 not installed here yet: kept */
#else
       :: else -> printf("member %d drops a view-2 PROPOSE (view 2 not installed yet)\n", r)
#endif
       fi
    :: t == FIN1 -> if :: st[r] == 0 -> i = a; final(r, i, b, c); i = 0 :: else fi
    :: t == FIN2 -> assert(st[r] == 2); i = a; final(r, i, b, c); i = 0
    :: t == FLUSH -> if :: st[r] == 0 -> startFlush(r) :: else fi; fl[r * N + f] = a + 1
    :: t == RELAY -> if :: st[r] == 1 && a == dcount[r] + 1 -> i = b; deliver(r, i); i = 0 :: else fi
    fi;
    t = 0; a = 0; b = 0; c = 0; f = 0;
    goto end
  };
dead:
  skip
}

/* Every terminal state: survivors installed the last view, delivered every survivor's message, the same log. */
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
    run Member(2)
  }
}
