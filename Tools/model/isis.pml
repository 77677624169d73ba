/*
 * total-isis (Docs/ordering.md): N = 3 members, member s multicasts MS(s) messages. On every message a member
 * proposes (counter + 1, me), counter being the largest priority it proposed or saw agreed; the sender, once every
 * member proposed, multicasts FINAL with the maximum (ties: the larger proposer); a member delivers the head of its
 * queue, ordered by (priority, proposer) over finals and its own proposals alike, when the head is final.
 *
 * Abstractions (Docs/ordering-verification.md): PGM is a reliable FIFO channel per sender -> receiver; a multicast
 * puts one frame into each receiver's channel at once; PROPOSE goes only to the message's sender (the others ignore
 * it); each frame carries one message (a batch is one frame); a member hears itself without the network; delivery
 * is immediate once the head is final (nothing else observes when a member delivers).
 *
 * Macros: M (messages per member, 2) or M0, M1, M2 each. Negative checks (each must make spin fail): PROPOSEDHEAD
 * (the head is delivered when only proposed), SMALLTIE (FINAL breaks ties towards the smaller proposer), NOAGREED
 * (the counter ignores agreed priorities).
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
#define MS(s) ((s) == 0 -> M0 : ((s) == 1 -> M1 : M2))
#define T (N * M)
#define CAP (3 * M)              /* s -> r: DATA and FINAL of s's messages, PROPOSE of r's */
#define ID(s, q) ((s) * M + (q) - 1)
#define SND(i) ((i) / M)
#define SQ(i) ((i) % M + 1)
#define CH(s, r) ((s) * (N - 1) + ((r) < (s) -> (r) : (r) - 1))
/* (p, q) < (p2, q2) in the queue's order */
#define LESS(p, q, p2, q2) ((p) < (p2) || ((p) == (p2) && (q) < (q2)))

mtype = { DATA, PROPOSE, FINAL };

chan ch[N * (N - 1)] = [CAP] of { mtype, byte, byte, byte };   /* DATA(id), PROPOSE(id, p), FINAL(id, p, proposer) */

byte sent[N];
byte counter[N];              /* largest priority r proposed or saw agreed */
byte stat[N * T];             /* stat[r * T + i]: 0 unknown, 1 proposed, 2 final, 3 delivered */
byte pri[N * T];              /* r's key for i: priority ... */
byte pro[N * T];              /* ... and proposer */
byte pc[T];                   /* at i's sender: proposals collected, the maximum, its proposer */
byte mp[T];
byte mpp[T];
byte dcount[N];
byte dseq[N * N];
byte log[N * T];
byte decided[T];

inline mcast(me, t, a, b, c) {
  k = 0;
  do
  :: k < N -> if :: k != me -> assert(nfull(ch[CH(me, k)])); ch[CH(me, k)]!t, a, b, c :: else fi; k++
  :: else -> break
  od;
  k = 0
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
     :: h != 255 && stat[r * T + h] >= 1 ->
#else
     :: h != 255 && stat[r * T + h] == 2 ->
#endif
        assert(SQ(h) <= sent[SND(h)]);
        assert(dseq[r * N + SND(h)] == SQ(h) - 1);        /* per sender FIFO, each message once */
        dseq[r * N + SND(h)]++;
        stat[r * T + h] = 3;
        dcount[r]++;
        printf("member %d delivers message %d.%d at position %d\n", r, SND(h), SQ(h), dcount[r]);
        log[r * T + dcount[r] - 1] = h + 1;
        if
        :: decided[dcount[r] - 1] == 0 -> decided[dcount[r] - 1] = h + 1
        :: else -> assert(decided[dcount[r] - 1] == h + 1)   /* the same message at every position */
        fi
     :: else -> break
     fi
  od;
  h = 0; j = 0
}

/* the sender of i collects proposal (p, q); with every member's, it multicasts FINAL and applies it */
inline collect(r, i, p, q) {
  pc[i]++;
#ifdef SMALLTIE
  if :: p > mp[i] || (p == mp[i] && q < mpp[i]) -> mp[i] = p; mpp[i] = q :: else fi;
#else
  if :: p > mp[i] || (p == mp[i] && q > mpp[i]) -> mp[i] = p; mpp[i] = q :: else fi;
#endif
  if
  :: pc[i] == N ->
     mcast(r, FINAL, i, mp[i], mpp[i]);
     final(r, i, mp[i], mpp[i])
  :: else
  fi
}

/* r proposes for i: (counter + 1, r) */
inline propose(r, i) {
  counter[r]++;
  stat[r * T + i] = 1;
  pri[r * T + i] = counter[r];
  pro[r * T + i] = r;
  printf("member %d proposes (%d, %d) for message %d.%d\n", r, counter[r], r, SND(i), SQ(i))
}

proctype Member(byte r) {
  mtype t; byte a, b, c, k, h, j, i;
end:
  do
  :: atomic { sent[r] < MS(r) ->
       sent[r]++; i = ID(r, sent[r]);
       mcast(r, DATA, i, 0, 0);
       propose(r, i);
       b = counter[r]; c = r;
       collect(r, i, b, c);
       i = 0; b = 0; c = 0 }
  :: atomic { r != 0 && nempty(ch[CH(0, r)]) -> ch[CH(0, r)]?t, a, b, c; k = 0; goto handle }
  :: atomic { r != 1 && nempty(ch[CH(1, r)]) -> ch[CH(1, r)]?t, a, b, c; k = 1; goto handle }
  :: atomic { r != 2 && nempty(ch[CH(2, r)]) -> ch[CH(2, r)]?t, a, b, c; k = 2; goto handle }
  od;
handle:
  atomic {
    if
    :: t == DATA ->
       propose(r, a);
       assert(nfull(ch[CH(r, k)]));
       ch[CH(r, k)]!PROPOSE, a, counter[r], r             /* to the sender only: nobody else uses it */
    :: t == PROPOSE -> assert(SND(a) == r); collect(r, a, b, c)
    :: t == FINAL -> final(r, a, b, c)
    fi;
    t = 0; a = 0; b = 0; c = 0; k = 0;
    goto end
  }
}

/* Every terminal state: every member delivered every message, all in the same order. */
active proctype Check() {
  byte r, g;
  timeout ->
  atomic {
    r = 0;
    do
    :: r < N ->
       assert(dcount[r] == M0 + M1 + M2);
       g = 0;
       do
       :: g < dcount[r] -> assert(log[r * T + g] == log[g]); g++
       :: else -> break
       od;
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
