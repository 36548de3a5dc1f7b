/*
 * seqlock: wait-free reads and non-blocking single-writer claims on
 * shared-memory slots, with takeover from dead writers.  See seqlock.h.
 */
#include <sys/types.h>

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "seqlock.h"

static int	seqlock_writer_dead(int32_t);
static int	seqlock_claim(struct seqlock *, uint32_t, int32_t);
static int	seqlock_takeover(struct seqlock *, uint32_t, int32_t);

int
seqlock_read(struct seqlock *sl, void *dst, const void *src, size_t len)
{
	uint32_t	seq;

	seq = atomic_load_explicit(&sl->seq, memory_order_acquire);
	if (seq & 1)
		return (-1);
	memcpy(dst, src, len);
	/* Keep the copy's loads before the second load of seq. */
	atomic_thread_fence(memory_order_acquire);
	if (atomic_load_explicit(&sl->seq, memory_order_relaxed) != seq)
		return (-1);
	return (0);
}

/* 1 if pid names a process that no longer exists, else 0. */
static int
seqlock_writer_dead(int32_t pid)
{
	if (pid <= 0)
		return (0);	/* a claim between its CAS and its pid store */
	return (kill((pid_t)pid, 0) == -1 && errno == ESRCH);
}

/* even -> odd: claim a stable slot. */
static int
seqlock_claim(struct seqlock *sl, uint32_t seq, int32_t self)
{
	if (!atomic_compare_exchange_strong(&sl->seq, &seq, seq + 1))
		return (-1);
	atomic_store(&sl->writer, self);
	return (0);
}

/* odd -> next odd: take the slot over from its dead writer. */
static int
seqlock_takeover(struct seqlock *sl, uint32_t seq, int32_t self)
{
	int32_t	owner;

	owner = atomic_load(&sl->writer);
	if (!seqlock_writer_dead(owner))
		return (-1);
	if (!atomic_compare_exchange_strong(&sl->seq, &seq, seq + 2))
		return (-1);
	/*
	 * Another process may have seen the same dead pid after our CAS and
	 * bumped seq again; of all takers only one replaces the dead pid.
	 */
	if (!atomic_compare_exchange_strong(&sl->writer, &owner, self))
		return (-1);
	return (0);
}

int
seqlock_write_begin(struct seqlock *sl)
{
	uint32_t	seq;
	int32_t		self = (int32_t)getpid();
	int		rv;

	seq = atomic_load(&sl->seq);
	if ((seq & 1) == 0)
		rv = seqlock_claim(sl, seq, self);
	else
		rv = seqlock_takeover(sl, seq, self);
	if (rv == -1)
		return (-1);
	/* The odd seq is visible before any of the caller's data stores. */
	atomic_thread_fence(memory_order_release);
	return (0);
}

void
seqlock_write_end(struct seqlock *sl)
{
	atomic_store(&sl->writer, 0);
	/* odd -> even; release: the data stores happen before it. */
	atomic_fetch_add_explicit(&sl->seq, 1, memory_order_release);
}
