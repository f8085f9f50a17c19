package dev.nann.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nann.TestData;
import dev.nann.corpus.Corpus;
import dev.nann.schemas.IndexDescriptor;
import dev.nann.schemas.ResponseStatus;
import dev.nann.schemas.RetrievalRequest;
import dev.nann.schemas.RetrievalResponse;
import dev.nann.schemas.internal.ScoringTask;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bounded work in the engine: past its queue a request is answered OVERLOADED at once (never
 * queued without end, never lost), a queued request its caller gave up on is skipped, and one past
 * its deadline is answered TIMEOUT without queueing. Closing
 * the engine answers every queued request and lets the running one finish.
 */
class EngineOverloadTest {
  @TempDir
  Path dir;

  @Test
  void aFullQueueShedsAtOnceAndAbandonedTasksAreSkipped() throws Exception {
    Corpus c = TestData.corpus(5000, 16, 4);
    IndexDescriptor index = TestData.publish(TestData.index(c, 16), dir.resolve("index-v1.nann"));
    EngineConfig cfg = EngineConfig.builder(TestData.model("attention", 16).toString()).walkerThreads(1)
        .queueCapacity(2).snapshotDir(dir.toString()).modelRoot(dir.toString()).allowBrute(true).provider("cpu", 0)
        .build();
    try (RetrievalEngine engine = new RetrievalEngine(cfg)) {
      engine.answer(task(index, "warm", "nann"));   // loads the index before the burst
      List<CompletableFuture<RetrievalResponse>> burst = new ArrayList<>();
      for (int i = 0; i < 40; i++) {
        burst.add(engine.submit(task(index, "r-" + i, "brute")));   // each scores all 5,000 items
      }
      int ok = 0;
      int overloaded = 0;
      for (CompletableFuture<RetrievalResponse> f : burst) {
        RetrievalResponse r = f.get(60, TimeUnit.SECONDS);
        ok += r.getStatus() == ResponseStatus.OK ? 1 : 0;
        overloaded += r.getStatus() == ResponseStatus.OVERLOADED ? 1 : 0;
        if (r.getStatus() == ResponseStatus.OVERLOADED) {
          assertTrue(r.getDetail().contains("retry later"), r.getDetail());
        }
      }
      assertEquals(40, ok + overloaded, "every request answered, OK or shed");
      assertTrue(overloaded > 0 && ok >= 1, "ok " + ok + ", overloaded " + overloaded);
      assertEquals(overloaded, engine.shedCount());

      // callers that give up (the async timeout) withdraw their queued tasks: walkers skip them
      List<CompletableFuture<RetrievalResponse>> given = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        given.add(engine.submit(task(index, "g-" + i, "brute")));
      }
      given.forEach(f -> f.cancel(false));
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (engine.inFlight() > 0 && System.nanoTime() < end) {
        Thread.sleep(10);
      }
      assertTrue(engine.abandonedCount() >= 1, "a queued task whose caller gave up is not walked: "
          + engine.abandonedCount());

      // a request whose deadline has passed (its caller has given up) is answered TIMEOUT at once, even
      // with the queue full, and takes no place in it
      List<CompletableFuture<RetrievalResponse>> full = new ArrayList<>();
      long shedBefore = engine.shedCount();
      for (int i = 0; i < 4; i++) {
        full.add(engine.submit(task(index, "f-" + i, "brute")));
      }
      assertTrue(engine.shedCount() > shedBefore, "the queue is full");
      shedBefore = engine.shedCount();
      ScoringTask late = task(index, "late", "nann");
      late.getRequest().setDeadlineMillis(System.currentTimeMillis() - 1);
      RetrievalResponse timedOut = engine.submit(late).get(1, TimeUnit.SECONDS);
      assertEquals(ResponseStatus.TIMEOUT, timedOut.getStatus(), String.valueOf(timedOut));
      assertEquals("deadline passed before the engine started on the request", timedOut.getDetail());
      assertEquals(shedBefore, engine.shedCount(), "not shed: answered before the queue");
      for (CompletableFuture<RetrievalResponse> f : full) {
        f.get(60, TimeUnit.SECONDS);
      }
    }
  }

  @Test
  void closingAnswersEveryQueuedRequest() throws Exception {
    Corpus c = TestData.corpus(5000, 16, 4);
    IndexDescriptor index = TestData.publish(TestData.index(c, 16), dir.resolve("index-v1.nann"));
    EngineConfig cfg = EngineConfig.builder(TestData.model("attention", 16).toString()).walkerThreads(1)
        .queueCapacity(32).snapshotDir(dir.toString()).modelRoot(dir.toString()).allowBrute(true).provider("cpu", 0)
        .build();
    RetrievalEngine engine = new RetrievalEngine(cfg);
    List<CompletableFuture<RetrievalResponse>> queued = new ArrayList<>();
    try {
      engine.answer(task(index, "warm", "nann"));
      for (int i = 0; i < 20; i++) {
        queued.add(engine.submit(task(index, "c-" + i, "brute")));   // one walker: most of them wait
      }
    } finally {
      engine.close();
    }
    int shutDown = 0;
    for (CompletableFuture<RetrievalResponse> f : queued) {
      RetrievalResponse r = f.get(10, TimeUnit.SECONDS);   // answered, not left waiting
      if (r.getStatus() == ResponseStatus.UNKNOWN) {
        assertEquals(WalkerTask.SHUT_DOWN, r.getDetail());
        shutDown++;
      } else {
        assertEquals(ResponseStatus.OK, r.getStatus(), "a request walked while closing finishes: " + r);
      }
    }
    assertTrue(shutDown > 0, "queued requests are answered at close");
    assertEquals(0, engine.inFlight());
    RetrievalResponse late = engine.submit(task(index, "late", "nann")).get(1, TimeUnit.SECONDS);
    assertEquals(ResponseStatus.UNKNOWN, late.getStatus());
    assertEquals(WalkerTask.SHUT_DOWN, late.getDetail());
  }

  private static ScoringTask task(IndexDescriptor index, String id, String mode) {
    RetrievalRequest req = RetrievalRequest.newBuilder().setRequestId(id).setUserId(1).setK(20).setMode(mode)
        .setCreatedAtMillis(System.currentTimeMillis()).build();
    return ScoringTask.newBuilder().setRequest(req).setSequence(List.of(1L, 2L)).setIndex(index).build();
  }
}
