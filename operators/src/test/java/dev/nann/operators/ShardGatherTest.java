package dev.nann.operators;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nann.engine.RequestProtocol;
import dev.nann.schemas.ResponseStatus;
import dev.nann.schemas.RetrievalRequest;
import dev.nann.schemas.RetrievalResponse;
import dev.nann.schemas.internal.ServingOutput;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ShardGatherTest {
  private static final RetrievalRequest REQ = RetrievalRequest.newBuilder().setRequestId("r1").setUserId(7).setK(3)
      .setCreatedAtMillis(1).build();

  private static ServingOutput part(int shard, ResponseStatus status, long[] items, float[] scores) {
    RetrievalResponse r = RequestProtocol.error(REQ, status, status == ResponseStatus.OK ? "" : "why " + shard);
    List<Long> ids = new ArrayList<>();
    List<Float> sc = new ArrayList<>();
    for (int i = 0; i < items.length; i++) {
      ids.add(items[i]);
      sc.add(scores[i]);
    }
    r.setItems(ids);
    r.setScores(sc);
    r.setIndexVersion(9);
    r.setItemsScored(100);
    r.setScoreCalls(7);
    Map<String, Long> stamps = new HashMap<>(Map.of("engineEnd", 1000L + shard));
    return new ServingOutput(r, false, Map.of(), 5L, stamps, shard, "r1#1", 3);
  }

  @Test
  void allShardsAnsweredGiveTheBestKOfThem() {
    ServingOutput out = ShardGather.merge(new ArrayList<>(List.of(
        part(1, ResponseStatus.OK, new long[] {4, 2}, new float[] {0.8f, 0.3f}),
        part(0, ResponseStatus.OK, new long[] {5, 1}, new float[] {0.9f, 0.1f}))), 2);
    RetrievalResponse r = out.getResponse();
    assertEquals(ResponseStatus.OK, r.getStatus());
    assertEquals(List.of(5L, 4L, 2L), r.getItems());
    assertEquals(200, r.getItemsScored());
    assertEquals(14, r.getScoreCalls(), "the shards' calls add up");
    assertEquals(9, r.getIndexVersion());
    assertTrue(r.getMissingShards().isEmpty());
    assertEquals(1001L, out.getStamps().get("engineEnd"), "the slowest shard's end");
    assertEquals(-1, out.getShard());
  }

  @Test
  void aShardThatTimedOutMakesTheAnswerPartialAndNamesIt() {
    ServingOutput out = ShardGather.merge(new ArrayList<>(List.of(
        part(0, ResponseStatus.OK, new long[] {5, 1}, new float[] {0.9f, 0.1f}),
        part(1, ResponseStatus.TIMEOUT, new long[0], new float[0]),
        part(2, ResponseStatus.OK, new long[] {6}, new float[] {0.5f}))), 3);
    RetrievalResponse r = out.getResponse();
    assertEquals(ResponseStatus.PARTIAL, r.getStatus());
    assertEquals(List.of(1), r.getMissingShards());
    assertEquals(List.of(5L, 6L, 1L), r.getItems());
    assertTrue(r.getDetail().startsWith("2 of 3 shards answered"), r.getDetail());
    assertTrue(r.getDetail().contains("shard 1 TIMEOUT (why 1)"), r.getDetail());
  }

  /** A task answered before all its shards answered (the gather's timer) names the silent ones. */
  @Test
  void aShardWithNoAnswerAtAllIsMissingToo() {
    ServingOutput out = ShardGather.merge(new ArrayList<>(List.of(
        part(2, ResponseStatus.OK, new long[] {6}, new float[] {0.5f}),
        part(0, ResponseStatus.OK, new long[] {5, 1}, new float[] {0.9f, 0.1f}),
        part(3, ResponseStatus.TIMEOUT, new long[0], new float[0]))), 4);
    RetrievalResponse r = out.getResponse();
    assertEquals(ResponseStatus.PARTIAL, r.getStatus());
    assertEquals(List.of(1, 3), r.getMissingShards());
    assertEquals(List.of(5L, 6L, 1L), r.getItems());
    assertTrue(r.getDetail().startsWith("2 of 4 shards answered") && r.getDetail().contains("shard 1 gave no answer"),
        r.getDetail());
  }

  @Test
  void noShardAnsweredKeepsTheirStatus() {
    ServingOutput out = ShardGather.merge(new ArrayList<>(List.of(
        part(1, ResponseStatus.OVERLOADED, new long[0], new float[0]),
        part(0, ResponseStatus.OVERLOADED, new long[0], new float[0]))), 2);
    assertEquals(ResponseStatus.OVERLOADED, out.getResponse().getStatus());
    assertEquals(List.of(0, 1), out.getResponse().getMissingShards());
    assertTrue(out.getResponse().getItems().isEmpty());
  }

  @Test
  void onlyTheFirstShardsCopyCarriesEveryHeaderAndAPartialAnswerWithoutItStillRoutes() {
    java.nio.ByteBuffer replyTo = java.nio.ByteBuffer.wrap("3".getBytes(java.nio.charset.StandardCharsets.UTF_8));
    java.nio.ByteBuffer sentAt = java.nio.ByteBuffer.wrap(new byte[] {0, 0, 0, 0, 0, 0, 1, 0});
    Map<String, java.nio.ByteBuffer> headers = Map.of("correlation-id", java.nio.ByteBuffer.wrap(new byte[] {4, 2}),
        dev.nann.schemas.codec.ReplyPartitionHeader.NAME, replyTo, dev.nann.schemas.codec.SentAtHeader.NAME, sentAt);
    Map<String, java.nio.ByteBuffer> routing = Map.of(dev.nann.schemas.codec.ReplyPartitionHeader.NAME, replyTo,
        dev.nann.schemas.codec.SentAtHeader.NAME, sentAt);
    dev.nann.schemas.internal.ScoringTask task = dev.nann.schemas.internal.ScoringTask.newBuilder().setRequest(REQ)
        .setHeaders(headers).build();
    List<dev.nann.schemas.internal.ScoringTask> copies = new ArrayList<>();
    new ShardScatter(3).flatMap(task, new org.apache.flink.api.common.functions.util.ListCollector<>(copies));
    assertEquals(3, copies.size());
    assertEquals(headers, copies.get(0).getHeaders());
    assertEquals(routing, copies.get(1).getHeaders(), "the others carry where the answer goes, not the caller's own");
    assertEquals(routing, copies.get(2).getHeaders());

    List<ServingOutput> parts = new ArrayList<>();
    for (int shard = 2; shard >= 0; shard--) {   // in any order
      ServingOutput p = part(shard, ResponseStatus.OK, new long[] {10L + shard}, new float[] {shard});
      p.setHeaders(copies.get(shard).getHeaders());
      parts.add(p);
    }
    assertEquals(headers, ShardGather.merge(new ArrayList<>(parts), 3).getHeaders(),
        "the answer carries the request's headers");
    // shard 0's copy is late (the gather's timer fired first): the partial answer still goes to the
    // client's partition, stamped with when the request was sent
    ServingOutput partial = ShardGather.merge(new ArrayList<>(parts.subList(0, 2)), 3);
    assertEquals(ResponseStatus.PARTIAL, partial.getResponse().getStatus());
    assertEquals(routing, partial.getHeaders());
  }

  @Test
  void answeredTasksGoOnceEachToAnyShardUnderTheirOwnTaskId() {
    RetrievalResponse noIndex = RequestProtocol.error(REQ, ResponseStatus.NO_INDEX, "no index yet");
    List<dev.nann.schemas.internal.ScoringTask> copies = new ArrayList<>();
    ShardScatter scatter = new ShardScatter(4);
    for (int i = 0; i < 400; i++) {
      scatter.flatMap(dev.nann.schemas.internal.ScoringTask.newBuilder().setRequest(REQ).setAnswer(noIndex).build(),
          new org.apache.flink.api.common.functions.util.ListCollector<>(copies));
    }
    assertEquals(400, copies.size(), "one copy each");
    java.util.Set<Integer> shards = new java.util.HashSet<>();
    java.util.Set<String> taskIds = new java.util.HashSet<>();
    for (dev.nann.schemas.internal.ScoringTask t : copies) {
      shards.add(t.getShard());
      taskIds.add(t.getTaskId());
    }
    // a burst of them (no index yet, a reshard) used to go through the first walk and gather subtasks
    assertEquals(java.util.Set.of(0, 1, 2, 3), shards, "spread over the shards' subtasks");
    assertEquals(400, taskIds.size(), "and over the gather's keys");
  }

  @Test
  void eachCopyNamesItsOwnShardAloneSoItsSizeDoesNotGrowWithS() {
    java.util.function.IntUnaryOperator copyBytes = shards -> {
      List<dev.nann.schemas.ShardSnapshot> entries = new ArrayList<>();
      for (int s = 0; s < shards; s++) {
        entries.add(new dev.nann.schemas.ShardSnapshot(s, 40L + s, "/store/index-v0000000000" + (40 + s) + "-s" + s
            + ".nann", "ab".repeat(32), 1000));
      }
      dev.nann.schemas.IndexDescriptor manifest = new dev.nann.schemas.IndexDescriptor(9L, "/store/manifest-9.json",
          "cd".repeat(32), 1000 * shards, 16, 32, 40, 1L, entries);
      List<dev.nann.schemas.internal.ScoringTask> copies = new ArrayList<>();
      new ShardScatter(shards).flatMap(dev.nann.schemas.internal.ScoringTask.newBuilder().setRequest(REQ)
          .setIndex(manifest).setNext(manifest).build(), new org.apache.flink.api.common.functions.util.ListCollector<>(copies));
      assertEquals(shards, copies.size());
      for (int s = 0; s < shards; s++) {
        dev.nann.schemas.internal.ScoringTask copy = copies.get(s);
        assertEquals(List.of(entries.get(s)), copy.getIndex().getShards(), "copy " + s + " names its own shard");
        assertEquals(shards, copy.getShardCount());
        assertEquals(entries.get(s), dev.nann.shard.ShardEntries.of(copy.getNext(), s));
      }
      return dev.nann.schemas.codec.AvroCodec.of(dev.nann.schemas.internal.ScoringTask.class).encode(copies.get(0)).length;
    };
    int four = copyBytes.applyAsInt(4);
    int sixtyFour = copyBytes.applyAsInt(64);
    assertTrue(sixtyFour < four + 64, "a copy of 64 shards' task takes " + sixtyFour + " bytes, of 4 shards' " + four);
  }
}
