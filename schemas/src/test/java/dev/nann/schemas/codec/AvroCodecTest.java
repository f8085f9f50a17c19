package dev.nann.schemas.codec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nann.schemas.ItemEmbedding;
import dev.nann.schemas.RetrievalRequest;
import dev.nann.schemas.RetrievalResponse;
import dev.nann.schemas.ResponseStatus;
import dev.nann.schemas.SchemaHistory;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.message.BinaryMessageDecoder;
import org.apache.avro.message.BinaryMessageEncoder;
import org.junit.jupiter.api.Test;

/**
 * Decoding hostile bytes: a declared length or count beyond the record's bytes is refused before
 * Avro allocates it, with a reason naming the field; wrong markers and fingerprints say so; and
 * thousands of mutated records never escape as anything but a refusal.
 */
class AvroCodecTest {
  private static final AvroCodec<RetrievalRequest> REQUESTS = AvroCodec.of(RetrievalRequest.class);
  private static final AvroCodec<ItemEmbedding> ITEMS = AvroCodec.of(ItemEmbedding.class);

  private static RetrievalRequest request() {
    return RetrievalRequest.newBuilder().setRequestId("r-1").setUserId(42).setK(50).setMode("nann")
        .setExcludeItems(List.of(1L, 2L, 3L)).setAttributeFilter(Map.of("genre", List.of("drama", "comedy")))
        .setCreatedAtMillis(1L).build();
  }

  /** The header (marker + fingerprint) of a valid record, followed by {@code body}. */
  private static byte[] withBody(byte[] valid, int... body) {
    byte[] out = Arrays.copyOf(valid, 10 + body.length);
    for (int i = 0; i < body.length; i++) {
      out[10 + i] = (byte) body[i];
    }
    return out;
  }

  @Test
  void roundTrips() throws IOException {
    assertEquals(request(), REQUESTS.decode(REQUESTS.encode(request())));
  }

  @Test
  void aStringLengthBombIsRefusedBeforeAllocation() {
    // requestId declaring 2^30 bytes (zig-zag varint 80 80 80 80 08) in a 15-byte record
    byte[] bomb = withBody(REQUESTS.encode(request()), 0x80, 0x80, 0x80, 0x80, 0x08);
    assertEquals(15, bomb.length);
    IOException e = assertThrows(IOException.class, () -> REQUESTS.decode(bomb));
    assertTrue(e.getMessage().contains("field 'requestId' declares 1073741824 bytes but only 0 remain"), e.getMessage());
  }

  @Test
  void aStringThatIsNotUtf8IsRefusedNamingTheFieldAndWellFormedTextPasses() throws IOException {
    RetrievalRequest text = RetrievalRequest.newBuilder(request()).setRequestId("ré-\uD83D\uDE00").build();
    assertEquals(text, REQUESTS.decode(REQUESTS.encode(text)), "two-, three- and four-byte sequences");
    byte[] valid = REQUESTS.encode(request());   // requestId "r-1": length 3 at byte 10, its bytes at 11 to 13
    assertEquals('r', valid[11]);
    // Latin-1 é, a lone continuation byte, an overlong '/', a UTF-16 surrogate written as UTF-8, a
    // sequence cut short by the string's end: Avro read each as U+FFFD, so ids collided
    for (int[] bad : new int[][] {{0xE9, '-', '1'}, {0x80, '-', '1'}, {0xC0, 0xAF, '1'}, {0xED, 0xA0, 0x80},
        {'r', '-', 0xE2}}) {
      byte[] m = valid.clone();
      for (int i = 0; i < 3; i++) {
        m[11 + i] = (byte) bad[i];
      }
      IOException e = assertThrows(IOException.class, () -> REQUESTS.decode(m), Arrays.toString(bad));
      assertTrue(e.getMessage().contains("field 'requestId' is not valid UTF-8"), e.getMessage());
    }
  }

  @Test
  void anArrayCountBombIsRefusedBeforeAllocation() {
    // an ItemEmbedding whose embedding array declares 2^30 floats: Avro would allocate the list
    // (8 GiB of references) before reading one; this heap cannot hold it
    ItemEmbedding item = ItemEmbedding.newBuilder().setItemId(7).setEmbedding(List.of(1f)).setUpdatedAtMillis(1).build();
    byte[] valid = ITEMS.encode(item);
    byte[] body = Arrays.copyOfRange(valid, 10, valid.length);
    // itemId 7 -> zig-zag 0x0e; then the embedding's block count
    assertEquals(0x0e, body[0]);
    byte[] bomb = withBody(valid, 0x0e, 0x80, 0x80, 0x80, 0x80, 0x08, 0, 0, 0, 0);
    IOException e = assertThrows(IOException.class, () -> ITEMS.decode(bomb));
    assertTrue(e.getMessage().contains("declares 1073741824 items"), e.getMessage());
  }

  @Test
  void aBlockWhoseDeclaredSizeIsNotItsItemsSizeIsRefused() throws IOException {
    // the embedding as one block of count -2 and a byte size: a reader of a schema without the field
    // skips by that size, so a size that lies would send it on through bytes never bounded
    byte[] valid = ITEMS.encode(ItemEmbedding.newBuilder().setItemId(7).setUpdatedAtMillis(1).build());
    int[] floats = {0, 0, 0x80, 0x3f, 0, 0, 0, 0x40};   // 1f, 2f little-endian
    int[] honest = new int[15];
    int[] lying = new int[15];
    for (int[] body : new int[][] {honest, lying}) {
      body[0] = 0x0e;       // itemId 7
      body[1] = 0x03;       // count -2: a size follows
      body[2] = body == honest ? 0x10 : 0x08;   // 8 bytes, or 4
      System.arraycopy(floats, 0, body, 3, 8);
      body[11] = 0;         // end of the array
      body[12] = 0;         // deleted false
      body[13] = 0;         // no attributes
      body[14] = 0x02;      // updatedAtMillis 1
    }
    assertEquals(List.of(1f, 2f), ITEMS.decode(withBody(valid, honest)).getEmbedding());
    IOException e = assertThrows(IOException.class, () -> ITEMS.decode(withBody(valid, lying)));
    assertTrue(e.getMessage().contains("declares a block of 4 bytes but its items take 8"), e.getMessage());
  }

  @Test
  void anIntWrittenInMoreThanFiveBytesIsRefusedNamingTheField() throws IOException {
    // k = 50 is zig-zag 100, one byte 0x64; padded to six bytes it is a long's encoding, which
    // Avro's int reader fails on with an unchecked error; five bytes is still an int to Avro
    byte[] valid = REQUESTS.encode(request());
    int at = 10 + 1 + "r-1".length() + 1;   // after requestId (length + bytes) and userId 42 (0x54)
    assertEquals(0x64, valid[at]);
    byte[] six = replaced(valid, at, 0xe4, 0x80, 0x80, 0x80, 0x80, 0x00);
    IOException e = assertThrows(IOException.class, () -> REQUESTS.decode(six));
    assertTrue(e.getMessage().contains("field 'k' holds a malformed number"), e.getMessage());
    assertEquals(50, REQUESTS.decode(replaced(valid, at, 0xe4, 0x80, 0x80, 0x80, 0x00)).getK());
  }

  /** {@code valid} with its byte at {@code at} replaced by {@code bytes}. */
  private static byte[] replaced(byte[] valid, int at, int... bytes) {
    byte[] out = new byte[valid.length - 1 + bytes.length];
    System.arraycopy(valid, 0, out, 0, at);
    for (int i = 0; i < bytes.length; i++) {
      out[at + i] = (byte) bytes[i];
    }
    System.arraycopy(valid, at + 1, out, at + bytes.length, valid.length - at - 1);
    return out;
  }

  @Test
  void negativeLengthsAndTrailingBytesAreRefused() {
    byte[] negative = withBody(REQUESTS.encode(request()), 0x03);   // zig-zag -2
    assertTrue(assertThrows(IOException.class, () -> REQUESTS.decode(negative)).getMessage().contains("declares -2"));
    byte[] valid = REQUESTS.encode(request());
    byte[] trailing = Arrays.copyOf(valid, valid.length + 3);
    assertTrue(assertThrows(IOException.class, () -> REQUESTS.decode(trailing)).getMessage()
        .contains("3 bytes follow the end"));
  }

  @Test
  void wrongMarkersAndSchemasSaySo() {
    byte[] valid = REQUESTS.encode(request());
    byte[] notAvro = valid.clone();
    notAvro[0] = '{';
    assertTrue(assertThrows(IOException.class, () -> REQUESTS.decode(notAvro)).getMessage()
        .startsWith("not an Avro single-object record"));
    byte[] otherSchema = valid.clone();
    otherSchema[5] ^= 0x10;
    assertTrue(assertThrows(IOException.class, () -> REQUESTS.decode(otherSchema)).getMessage()
        .contains("written with an unknown schema"));
    byte[] item = ITEMS.encode(ItemEmbedding.newBuilder().setItemId(1).setEmbedding(List.of(0f)).setUpdatedAtMillis(1)
        .build());
    assertTrue(assertThrows(IOException.class, () -> REQUESTS.decode(item)).getMessage()
        .contains("this topic takes dev.nann.schemas.RetrievalRequest"));
  }

  @Test
  void aRecordOfAnEarlierVersionIsReadWithDefaults() throws IOException {
    // an earlier client's request: RetrievalRequest as first shipped, before attribute filters and budgets
    Schema v1 = SchemaHistory.versions("RetrievalRequest").get(0);
    assertNull(v1.getField("budget"));
    GenericData.Record old = new GenericData.Record(v1);
    for (Schema.Field f : v1.getFields()) {
      if (f.hasDefaultValue()) {
        old.put(f.name(), GenericData.get().getDefaultValue(f));
      }
    }
    old.put("requestId", "r-old");
    old.put("userId", 9L);
    old.put("k", 30);
    byte[] bytes = new BinaryMessageEncoder<GenericData.Record>(GenericData.get(), v1).encode(old).array();
    RetrievalRequest read = REQUESTS.decode(bytes);
    assertEquals("r-old", read.getRequestId());
    assertEquals(9L, read.getUserId());
    assertEquals(30, read.getK());
    assertEquals(Map.of(), read.getAttributeFilter(), "fields it lacks take their defaults");
    assertEquals(0, read.getBudget());

    // and its bounds are checked under the schema it was written with
    byte[] bomb = withBody(bytes, 0x80, 0x80, 0x80, 0x80, 0x08);
    IOException e = assertThrows(IOException.class, () -> REQUESTS.decode(bomb));
    assertTrue(e.getMessage().contains("field 'requestId' declares 1073741824 bytes"), e.getMessage());
  }

  @Test
  void anEarlierVersionIsWrittenForReadersThatKnowOnlyIt() throws IOException {
    RetrievalResponse answer = RetrievalResponse.newBuilder().setRequestId("r-7").setUserId(5).setStatus(ResponseStatus.OK)
        .setItems(List.of(11L, 12L)).setScores(List.of(0.5f, 0.25f)).setIndexVersion(3).setModelVersion("m-1")
        .setItemsScored(900).setScoreCalls(12).setLatencyMillis(4).setEngineMillis(3.5f)
        .setTimings(Map.of("walk", 0.4f)).build();
    Schema v1 = SchemaHistory.versions("RetrievalResponse").get(0);
    assertNull(v1.getField("timings"));
    byte[] written = AvroCodec.of(RetrievalResponse.class, 1).encode(answer);

    // a client built on version 1 knows that schema only
    GenericRecord read = new BinaryMessageDecoder<GenericRecord>(GenericData.get(), v1).decode(written);
    assertEquals("r-7", read.get("requestId").toString());
    assertEquals(List.of(11L, 12L), read.get("items"));
    assertEquals(900, read.get("itemsScored"));
    assertEquals("OK", read.get("status").toString());

    // today's readers take it as the earlier version it is: what it lacks takes its default
    RetrievalResponse back = AvroCodec.of(RetrievalResponse.class).decode(written);
    assertEquals(answer.getItems(), back.getItems());
    assertEquals(0, back.getScoreCalls());
    assertEquals(Map.of(), back.getTimings());
    assertEquals(AvroCodec.of(RetrievalResponse.class).encode(answer).length,
        AvroCodec.of(RetrievalResponse.class, SchemaHistory.versions("RetrievalResponse").size()).encode(answer).length,
        "the newest version number writes the current schema");
  }

  @Test
  void aVersionThatCannotHoldTheCurrentRecordIsRefused() {
    IllegalArgumentException unknown = assertThrows(IllegalArgumentException.class,
        () -> AvroCodec.of(RetrievalResponse.class, 99));
    assertTrue(unknown.getMessage().contains("has versions 1 to"), unknown.getMessage());
    // ScoringTask v1 requires an index where today's task may have none
    IllegalArgumentException narrower = assertThrows(IllegalArgumentException.class,
        () -> AvroCodec.of(dev.nann.schemas.internal.ScoringTask.class, 1));
    assertTrue(narrower.getMessage().contains("cannot hold a record of the current version"), narrower.getMessage());
  }

  @Test
  void mutatedRecordsAreDecodedOrRefusedNeverAnythingElse() {
    byte[] valid = REQUESTS.encode(request());
    SplittableRandom rnd = new SplittableRandom(3);
    int refused = 0;
    List<Throwable> escaped = new ArrayList<>();
    for (int i = 0; i < 20_000; i++) {
      byte[] m = mutate(valid, rnd);
      try {
        REQUESTS.decode(m);
      } catch (IOException e) {   // the only way a record is refused: callers catch nothing else
        refused++;
      } catch (Throwable t) {
        escaped.add(t);
      }
    }
    assertTrue(escaped.isEmpty(), "errors escaped decoding: " + escaped.subList(0, Math.min(3, escaped.size())));
    assertTrue(refused > 1000, "the mutations should mostly break records, refused " + refused);
  }

  /** A bit flip, truncation, a length varint bomb spliced in, or random bytes after the header. */
  static byte[] mutate(byte[] valid, SplittableRandom rnd) {
    byte[] m = valid.clone();
    switch (rnd.nextInt(4)) {
      case 0 -> m[10 + rnd.nextInt(m.length - 10)] ^= (byte) (1 << rnd.nextInt(8));
      case 1 -> m = Arrays.copyOf(m, 10 + rnd.nextInt(m.length - 10));
      case 2 -> {
        int at = 10 + rnd.nextInt(m.length - 10);
        byte[] bomb = {(byte) 0xfe, (byte) 0xff, (byte) 0xff, (byte) 0xff, 0x0f};
        System.arraycopy(bomb, 0, m, at, Math.min(bomb.length, m.length - at));
      }
      default -> {
        for (int i = 10; i < m.length; i++) {
          m[i] = (byte) rnd.nextInt(256);
        }
      }
    }
    return m;
  }
}
