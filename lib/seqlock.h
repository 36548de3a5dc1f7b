/*
 * seqlock: one writer at a time, readers that never wait, for slots in
 * shared memory (the credential cache and the token version cache).
 *
 * A slot embeds a struct seqlock beside the data it guards:
 *
 *	struct slot { struct seqlock sl; struct data d; };
 *
 * Read: copy the data out, then trust the copy only if the lock says it
 * is consistent; on -1 treat the slot as a miss (never retry in a loop):
 *
 *	struct data	copy;
 *	if (seqlock_read(&s->sl, &copy, &s->d, sizeof(copy)) == -1)
 *		return (MISS);
 *	... use copy, never s->d ...
 *
 * Write: claim, write the fields, publish; on -1 someone else is writing
 * the slot, so skip this write (a cache can always drop an entry):
 *
 *	if (seqlock_write_begin(&s->sl) == -1)
 *		return;
 *	s->d = new;
 *	seqlock_write_end(&s->sl);
 *
 * seq is even while the slot is stable and odd while it is being written;
 * a read is good when seq was even before the copy and the same after it.
 * Nothing ever waits or spins: a reader that meets a write gives up, a
 * writer that meets another gives up.  So a process killed at any point,
 * even mid-write, blocks nobody: it leaves at worst one slot odd, and the
 * next writer finds its recorded pid gone (kill(pid, 0) fails with ESRCH)
 * and takes the slot over.  Readers miss on that slot until then.
 *
 * The guarded data is copied with memcpy() while a writer may be storing
 * to it; the copy can be torn, which is why it is checked and why the
 * reader must use only the copy.  Writers must not store pointers into
 * the slot that a torn read could make dangerous to follow.
 */
#ifndef SEQLOCK_H
#define SEQLOCK_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct seqlock {
	_Atomic uint32_t seq;		/* even: stable; odd: being written */
	_Atomic int32_t	 writer;	/* writer's pid while odd, else 0 */
};

/*
 * Copy len bytes from src (the data the lock guards) to dst: 0 if the
 * copy is consistent, -1 if a write was in progress or happened meanwhile
 * (dst then holds garbage).
 */
int	seqlock_read(struct seqlock *, void *dst, const void *src,
	    size_t len);
/*
 * Claim the slot for writing: 0 when claimed (also when taken over from a
 * dead writer), -1 when a live writer holds it or another claim won.
 */
int	seqlock_write_begin(struct seqlock *);
/* Publish what was written since seqlock_write_begin() returned 0. */
void	seqlock_write_end(struct seqlock *);

#endif /* SEQLOCK_H */
