// Prints ImageSpec.tensorFromPixels for given pixels and the metadata-derived name scan, for the Python side.
package com.test.image

import com.test.classifier.pockettorch.ImageSpec
import com.test.support.writeFloats
import java.io.File

/** args: pixels file (one ARGB int per line), output file, layout, channels */
public fun main(args: Array<String>) {
    val (pixelsPath, outPath, layout, channels) = args
    val pixels = File(pixelsPath).readLines().map { it.trim().toLong().toInt() }.toIntArray()
    val gray = channels == "GRAY"
    val spec = ImageSpec(
        width = 3, height = 2, layout = layout, channels = channels,
        mean = if (gray) floatArrayOf(0.5f) else floatArrayOf(0.5f, 0.4f, 0.3f),
        std = if (gray) floatArrayOf(0.25f) else floatArrayOf(0.2f, 0.25f, 0.3f),
    )
    val t = spec.tensorFromPixels(pixels)
    check(t.shape == spec.shape) { "shape ${t.shape} != ${spec.shape}" }
    writeFloats(outPath, t.data)
}
