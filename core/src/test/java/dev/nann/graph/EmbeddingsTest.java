package dev.nann.graph;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.Random;
import org.junit.jupiter.api.Test;

class EmbeddingsTest {
  @Test
  void gatherRowsCopiesTheRequestedRowsInOrderFromHeapAndDirectBuffers() {
    int dim = 40;                       // not a multiple of the 16-float touch stride
    int size = 300;
    float[] rows = new float[size * dim];
    Random r = new Random(7);
    for (int i = 0; i < rows.length; i++) {
      rows[i] = r.nextFloat();
    }
    FloatBuffer direct = ByteBuffer.allocateDirect(rows.length * 4).order(ByteOrder.nativeOrder()).asFloatBuffer();
    direct.put(0, rows);
    int[] nodes = new int[200];
    for (int i = 0; i < nodes.length; i++) {
      nodes[i] = r.nextInt(size);
    }
    int from = 3;
    int count = 150;                    // more than one touch block
    for (Embeddings e : new Embeddings[] {Embeddings.of(rows, dim), new Embeddings(direct, dim)}) {
      float[] stage = new float[count * dim];
      FloatBuffer dst = ByteBuffer.allocateDirect(count * dim * 4).order(ByteOrder.nativeOrder()).asFloatBuffer();
      e.gatherRows(nodes, from, count, stage, dst);
      float[] got = new float[count * dim];
      dst.get(0, got);
      float[] want = new float[count * dim];
      for (int i = 0; i < count; i++) {
        System.arraycopy(rows, nodes[from + i] * dim, want, i * dim, dim);
      }
      assertArrayEquals(want, got);
    }
  }
}
