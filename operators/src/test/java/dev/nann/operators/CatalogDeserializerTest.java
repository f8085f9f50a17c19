package dev.nann.operators;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nann.schemas.ItemEmbedding;
import dev.nann.schemas.codec.AvroCodec;
import dev.nann.schemas.internal.CatalogInput;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.flink.api.common.functions.util.ListCollector;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Test;

/** Catalogue records as both jobs decode them: attributes sized for filters pass, payloads are dead-lettered. */
class CatalogDeserializerTest {
  private static final int DIM = 4;
  private final CatalogDeserializer decoder = new CatalogDeserializer(DIM, 1 << 20, 1e6f);

  private CatalogInput decode(ItemEmbedding item) {
    List<CatalogInput> out = new ArrayList<>();
    byte[] value = AvroCodec.of(ItemEmbedding.class).encode(item);
    decoder.deserialize(new ConsumerRecord<>("item-embeddings", 0, 7, Long.toString(item.getItemId()).getBytes(),
        value), new ListCollector<>(out));
    assertEquals(1, out.size());
    return out.get(0);
  }

  private static ItemEmbedding upsert(long id, Map<String, String> attributes) {
    return ItemEmbedding.newBuilder().setItemId(id).setEmbedding(List.of(0.1f, 0.2f, 0.3f, 0.4f))
        .setAttributes(attributes).build();
  }

  @Test
  void attributesForFiltersPassAndPayloadsAreDeadLetteredWithTheReason() {
    Map<String, String> filters = new HashMap<>();
    for (int k = 0; k < CatalogDeserializer.MAX_ATTRIBUTE_KEYS; k++) {
      filters.put("k" + k, "v");
    }
    assertNotNull(decode(upsert(1, filters)).getItem(), "64 small attributes");
    assertNotNull(decode(upsert(2, Map.of("description", "x".repeat(4000)))).getItem(), "4 KiB in all");

    filters.put("one-more", "v");
    CatalogInput tooMany = decode(upsert(3, filters));
    assertNull(tooMany.getItem());
    assertTrue(tooMany.getDeadLetter().getReason().contains("65 attributes; at most 64"),
        tooMany.getDeadLetter().getReason());
    // é is two bytes in UTF-8: 2,100 of them pass 4,096 bytes though they are 2,100 characters
    CatalogInput payload = decode(upsert(4, Map.of("blob", "é".repeat(2_100))));
    assertNull(payload.getItem());
    assertTrue(payload.getDeadLetter().getReason().contains("4204 bytes of attributes; at most 4096"),
        payload.getDeadLetter().getReason());
  }
}
