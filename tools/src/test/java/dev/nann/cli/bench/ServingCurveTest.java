package dev.nann.cli.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.nio.file.Path;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ServingCurveTest {
  @TempDir
  Path dir;

  @Test
  void drawsBothBatchingSettingsAsAPng() throws Exception {
    ServingCurve curve = new ServingCurve();
    for (int rate : new int[] {50, 100, 150, 200}) {
      curve.add(new ServingCurve.Point("on", rate, 8 + rate / 20.0, 20 + rate / 2.0));
      curve.add(new ServingCurve.Point("off", rate, 6 + rate / 25.0, 15 + rate / 3.0));
    }
    Path png = dir.resolve("plots/serving.png");
    curve.write(png, "test run", 50);

    BufferedImage image = ImageIO.read(png.toFile());
    assertEquals(ServingCurve.WIDTH, image.getWidth());
    assertEquals(ServingCurve.HEIGHT, image.getHeight());
    // both settings' colours are drawn: blue for the first (on), red for the second (off)
    assertTrue(countNear(image, 0x1f77b4) > 200, "the first setting's lines are drawn");
    assertTrue(countNear(image, 0xd62728) > 200, "the second setting's lines are drawn");
  }

  private static int countNear(BufferedImage image, int rgb) {
    int n = 0;
    for (int y = 0; y < image.getHeight(); y++) {
      for (int x = 0; x < image.getWidth(); x++) {
        int p = image.getRGB(x, y);
        int d = Math.abs(((p >> 16) & 0xff) - ((rgb >> 16) & 0xff)) + Math.abs(((p >> 8) & 0xff) - ((rgb >> 8) & 0xff))
            + Math.abs((p & 0xff) - (rgb & 0xff));
        n += d < 30 ? 1 : 0;
      }
    }
    return n;
  }
}
