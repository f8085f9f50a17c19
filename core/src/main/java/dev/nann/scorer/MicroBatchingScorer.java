package dev.nann.scorer;

import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * Cross-request micro-batching: the candidate batches of concurrent queries are merged into one
 * ONNX Runtime call (the score network's {@code user_idx} column says which user each row belongs
 * to), so many small per-step batches become a few large ones.
 *
 * <p>Walker threads hand their batch to a single dispatcher thread through a lock-free queue and
 * park until it is scored. The dispatcher takes batches until the merged call would exceed
 * {@code maxRows}, or until every query that holds a user state is waiting in this call, or until
 * {@code maxWait} has passed since the first batch: one query alone never waits. A batch at least
 * {@code maxRows} large is scored on the caller's thread, as a merge would gain nothing.
 *
 * <p>Thread-safe. The per-thread hand-off slot is reused across calls, so a step allocates nothing
 * here but the stacked user-state arrays of the merged call.
 */
public final class MicroBatchingScorer implements Scorer {
  /** The name of the thread that merges the waiting batches and makes the runtime calls. */
  public static final String DISPATCHER_THREAD_NAME = "nann-score-batcher";

  private final OnnxScorer onnx;
  private final int maxRows;
  private final long maxWaitNanos;
  private final ConcurrentLinkedQueue<Slot> queue = new ConcurrentLinkedQueue<>();
  private final ThreadLocal<Slot> slots = ThreadLocal.withInitial(Slot::new);
  private final AtomicInteger openUsers = new AtomicInteger();
  private final Thread dispatcher;
  private volatile boolean running = true;

  private final AtomicLong calls = new AtomicLong();
  private final AtomicLong rows = new AtomicLong();
  private final AtomicLong paddedRows = new AtomicLong();
  private final AtomicLong mergedBatches = new AtomicLong();

  // dispatcher-only scratch
  private final ScoreBatch merged;
  private final Slot[] taken;
  private final OnnxScorer.OnnxUserState[] users;
  private final Slot[] apart;

  /**
   * @param onnx the scorer whose network runs the merged calls (not closed by this scorer)
   * @param maxRows most rows in one merged call (at most the scorer's grid maximum)
   * @param maxWaitMicros longest a batch waits for company
   */
  public MicroBatchingScorer(OnnxScorer onnx, int maxRows, long maxWaitMicros) {
    if (maxRows < 1 || maxRows > onnx.maxBatch()) {
      throw new IllegalArgumentException("maxRows must be in [1, " + onnx.maxBatch() + "], got " + maxRows);
    }
    if (maxWaitMicros < 0) {
      throw new IllegalArgumentException("maxWaitMicros must be >= 0, got " + maxWaitMicros);
    }
    if (!onnx.model().mergeable()) {
      throw new ModelContractException("model " + onnx.model().spec().version() + " cannot score several users in one "
          + "call (a user state input of its score network has a fixed first dimension): turn batching.enabled off, "
          + "or export the score network with a dynamic first axis on its user state inputs");
    }
    this.onnx = onnx;
    this.maxRows = maxRows;
    this.maxWaitNanos = maxWaitMicros * 1000;
    this.merged = new ScoreBatch(onnx.maxBatch(), onnx.itemDim());
    this.taken = new Slot[maxRows];
    this.users = new OnnxScorer.OnnxUserState[maxRows];
    this.apart = new Slot[maxRows];
    this.dispatcher = new Thread(this::dispatchLoop, DISPATCHER_THREAD_NAME);
    dispatcher.setDaemon(true);
    dispatcher.start();
  }

  @Override
  public int itemDim() {
    return onnx.itemDim();
  }

  @Override
  public int maxBatch() {
    return onnx.maxBatch();
  }

  @Override
  public UserState user(UserFeatures features) {
    OnnxScorer.OnnxUserState state = (OnnxScorer.OnnxUserState) onnx.user(features);
    openUsers.incrementAndGet();
    return new CountedUserState(state);
  }

  @Override
  public ScoreBatch newBatch() {
    return onnx.newBatch();
  }

  @Override
  public void score(UserState user, ScoreBatch batch, int n) {
    if (n == 0) {
      return;
    }
    OnnxScorer.OnnxUserState state = ((CountedUserState) user).state;
    if (n >= maxRows || !running) {
      onnx.score(state, batch, n);
      record(1, n, onnx.grid().padTo(n));
      return;
    }
    Slot slot = slots.get();
    slot.user = state;
    slot.batch = batch;
    slot.n = n;
    slot.error = null;
    slot.waiter = Thread.currentThread();
    slot.done = false;
    queue.add(slot);
    LockSupport.unpark(dispatcher);
    while (!slot.done) {
      LockSupport.parkNanos(this, 2_000_000L);
      if (!slot.done && !dispatcher.isAlive()) {
        // read again now that the dispatcher is seen to have ended: it may have completed this batch last
        if (!slot.done) {   // queued or taken, a stopped dispatcher will not score it
          queue.remove(slot);
          slot.error = new ScorerException("scorer closed while a batch was waiting", null);
        }
        break;
      }
    }
    slot.user = null;
    slot.batch = null;
    if (slot.error != null) {
      throw slot.error;
    }
    batch.requireScores(n, onnx.model().spec().version());   // this query's rows only: a merged call's others stand
  }

  /** Score calls made (merged or direct). */
  public long calls() {
    return calls.get();
  }

  /** Mean number of query batches merged into one call. */
  public double meanBatchesPerCall() {
    long c = calls.get();
    return c == 0 ? 0 : (double) mergedBatches.get() / c;
  }

  /** Fraction of the padded rows sent to the runtime that were real candidates. */
  public double batchFill() {
    long p = paddedRows.get();
    return p == 0 ? 0 : (double) rows.get() / p;
  }

  /** Mean real rows per runtime call. */
  public double meanRowsPerCall() {
    long c = calls.get();
    return c == 0 ? 0 : (double) rows.get() / c;
  }

  private void record(int batches, int n, int padded) {
    calls.incrementAndGet();
    mergedBatches.addAndGet(batches);
    rows.addAndGet(n);
    paddedRows.addAndGet(padded);
  }

  private void dispatchLoop() {
    try {
      dispatch();
    } catch (RuntimeException | Error e) {
      org.slf4j.LoggerFactory.getLogger(MicroBatchingScorer.class).error("the score batcher of model {} stopped: its "
          + "batches are scored one by one from now on", onnx.model().spec().version(), e);
      throw e;
    } finally {   // whatever stopped it, no batch waits for a dispatcher that is gone
      running = false;
      drainOnStop();
    }
  }

  private void dispatch() {
    while (running) {
      Slot first = queue.poll();
      if (first == null) {
        LockSupport.parkNanos(this, 1_000_000L);
        continue;
      }
      int count = 0;
      int total = 0;
      taken[count++] = first;
      total += first.n;
      long deadline = System.nanoTime() + maxWaitNanos;
      while (count < taken.length) {
        Slot next = queue.peek();
        if (next != null) {
          if (total + next.n > maxRows) {
            break;
          }
          queue.poll();
          taken[count++] = next;
          total += next.n;
          continue;
        }
        long left = deadline - System.nanoTime();
        if (count >= openUsers.get() || left <= 0) {
          break;
        }
        LockSupport.parkNanos(this, Math.min(left, 50_000L));
      }
      runMerged(count, total);
    }
  }

  /**
   * Scores the {@code count} batches taken, {@code total} rows: together when their users' states
   * stack, each batch whose user state has another shape than the first's on its own. Every batch
   * is completed, with the error of its call if that failed, whatever failed (a direct buffer the
   * runtime could not allocate is an Error, and a walker must not wait for ever for its batch).
   */
  private void runMerged(int count, int total) {
    int stacked = 0;
    int alone = 0;
    for (int j = 0; j < count; j++) {
      Slot s = taken[j];
      if (j == 0 || OnnxScorer.stackable(taken[0].user, s.user)) {
        taken[stacked++] = s;
      } else {
        apart[alone++] = s;
        total -= s.n;
      }
    }
    java.util.Arrays.fill(taken, stacked, count, null);
    complete(taken, stacked, scoreTogether(stacked, total));
    for (int j = 0; j < alone; j++) {   // each in a call of its own, as the first of taken
      taken[0] = apart[j];
      apart[j] = null;
      complete(taken, 1, scoreTogether(1, taken[0].n));
    }
  }

  private RuntimeException scoreTogether(int count, int total) {
    int userCount = 0;
    try {
      if (count == 1) {
        Slot s = taken[0];
        onnx.score(s.user, s.batch, s.n);
      } else {
        int d = itemDim();
        int row = 0;
        for (int j = 0; j < count; j++) {
          Slot s = taken[j];
          int u = indexOf(s.user, userCount);
          if (u == userCount) {
            users[userCount++] = s.user;
          }
          merged.items().put(row * d, s.batch.items(), 0, s.n * d);
          for (int i = 0; i < s.n; i++) {
            merged.userIdx().put(row + i, u);
          }
          row += s.n;
        }
        onnx.scoreMerged(users, userCount, merged, total);
        row = 0;
        for (int j = 0; j < count; j++) {
          Slot s = taken[j];
          System.arraycopy(merged.scores(), row, s.batch.scores(), 0, s.n);
          row += s.n;
        }
      }
      record(count, total, onnx.grid().padTo(total));
      return null;
    } catch (RuntimeException e) {
      return e;
    } catch (Error e) {
      return new ScorerException((count == 1 ? "the runtime call" : "the merged runtime call") + " failed: " + e, e);
    } finally {
      java.util.Arrays.fill(users, 0, userCount, null);
    }
  }

  private static void complete(Slot[] slots, int count, RuntimeException error) {
    for (int j = 0; j < count; j++) {
      complete(slots[j], error);
      slots[j] = null;
    }
  }

  private static void complete(Slot s, RuntimeException error) {
    s.error = error;
    Thread waiter = s.waiter;
    s.done = true;
    LockSupport.unpark(waiter);
  }

  private int indexOf(OnnxScorer.OnnxUserState user, int userCount) {
    for (int u = 0; u < userCount; u++) {
      if (users[u] == user) {
        return u;
      }
    }
    return userCount;
  }

  private void drainOnStop() {
    Slot s;
    while ((s = queue.poll()) != null) {
      complete(s, new ScorerException("scorer closed while a batch was waiting", null));
    }
  }

  /** Stops the dispatcher; waiting batches fail. Does not close the wrapped scorer. */
  @Override
  public void close() {
    running = false;
    LockSupport.unpark(dispatcher);
    try {
      dispatcher.join(5_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** One thread's hand-off slot, reused for all its calls. */
  private static final class Slot {
    OnnxScorer.OnnxUserState user;
    ScoreBatch batch;
    int n;
    Thread waiter;
    RuntimeException error;
    volatile boolean done;
  }

  /** Counts open user states so the dispatcher knows how many queries might still join a call. */
  private final class CountedUserState implements UserState {
    private final OnnxScorer.OnnxUserState state;
    private boolean closed;

    CountedUserState(OnnxScorer.OnnxUserState state) {
      this.state = state;
    }

    @Override
    public void close() {
      if (!closed) {
        closed = true;
        openUsers.decrementAndGet();
        state.close();
      }
    }
  }
}
