package dev.nann.engine;

import dev.nann.schemas.ResponseStatus;
import dev.nann.schemas.RetrievalRequest;
import dev.nann.schemas.RetrievalResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * One request queued for a walker thread, with the future its caller waits on. A walker runs it; a
 * shutdown that takes it off the queue first answers it instead ({@link #shutDown}), so no caller
 * waits for an answer that never comes.
 */
final class WalkerTask implements Runnable {
  /** The detail of every request the engine cannot answer because it is closing. */
  static final String SHUT_DOWN = "engine is shut down";

  private final RetrievalRequest request;
  private final CompletableFuture<RetrievalResponse> future;
  private final Runnable work;

  /** @param work answers {@code request} through {@code future} */
  WalkerTask(RetrievalRequest request, CompletableFuture<RetrievalResponse> future, Runnable work) {
    this.request = request;
    this.future = future;
    this.work = work;
  }

  @Override
  public void run() {
    work.run();
  }

  /**
   * Stops a walker pool: it takes no new task, each task still queued is answered UNKNOWN ({@link
   * #SHUT_DOWN}) and reported to {@code onDropped}, and the walkers get up to {@code wait} to finish
   * the queries they are on (then they are interrupted, and get as long again).
   *
   * @return whether every walker has stopped: only then may what they use be closed
   */
  static boolean shutDown(ThreadPoolExecutor walkers, Duration wait, Runnable onDropped) {
    walkers.shutdown();   // running queries finish and answer; nothing new starts
    List<Runnable> queued = new ArrayList<>();
    walkers.getQueue().drainTo(queued);
    for (Runnable r : queued) {
      ((WalkerTask) r).future.complete(RequestProtocol.error(((WalkerTask) r).request, ResponseStatus.UNKNOWN,
          SHUT_DOWN));
      onDropped.run();
    }
    try {
      if (walkers.awaitTermination(wait.toMillis(), TimeUnit.MILLISECONDS)) {
        return true;
      }
      walkers.shutdownNow();
      return walkers.awaitTermination(wait.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      walkers.shutdownNow();
      return walkers.isTerminated();
    }
  }
}
