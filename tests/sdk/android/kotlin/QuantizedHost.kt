// Host test of the quantized programs (static int8, dynamic int8 with an LSTM, int4 weight-only): float32 in and
// out, so each generated class runs them like any model.
package com.test.quantized

import com.test.support.readFloats
import com.test.support.writeFloats
import java.io.File
import kotlin.test.assertEquals

/** args: key (int8 | int8dyn | w4), model.ptm, input_0.bin, output dir */
public fun main(args: Array<String>) {
    val (key, modelPath, inputPath, outDir) = args
    val x = readFloats(inputPath)
    val (shape, data) = when (key) {
        "int8" -> com.test.int8.Int8Net(File(modelPath)).use {
            val out = it.run(x = com.test.int8.pockettorch.Tensor.Float32(x, listOf(1, 2, 6, 6))).output
            out.shape to out.data
        }
        "int8dyn" -> com.test.int8dyn.Int8DynamicNet(File(modelPath)).use {
            val out = it.run(x = com.test.int8dyn.pockettorch.Tensor.Float32(x, listOf(1, 5, 16))).output
            out.shape to out.data
        }
        "w4" -> com.test.w4.W4Net(File(modelPath)).use {
            val out = it.run(x = com.test.w4.pockettorch.Tensor.Float32(x, listOf(1, 64))).output
            out.shape to out.data
        }
        else -> error("unknown key $key")
    }
    assertEquals(data.size, shape.fold(1) { a, b -> a * b })
    writeFloats("$outDir/output_0.bin", data)
    println("$key host test passed")
}
