// Host test of a model with a dynamic sequence length: any length in 1..6 runs, others are INPUT_SHAPE.
package com.test.dynamic

import com.test.dynamic.pockettorch.ErrorCode
import com.test.dynamic.pockettorch.PocketTorchException
import com.test.dynamic.pockettorch.Tensor
import com.test.support.writeFloats
import java.io.File
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertTrue

/** args: model.ptm, output dir; writes output_<length>.bin for lengths 1, 4 and 6 (tokens 0, 1, ... mod 10). */
public fun main(args: Array<String>) {
    val (modelPath, outDir) = args
    TokenEmbedDynamic(File(modelPath)).use { model ->
        for (length in listOf(4, 1, 6)) {
            val out = model.run(tokens = Tensor.Int64(LongArray(length) { (it % 10).toLong() }, listOf(1, length)))
            assertEquals(listOf(1, length, 4), out.output.shape)
            writeFloats("$outDir/output_$length.bin", out.output.data)
        }
        for (length in listOf(7, 0)) {
            val e = assertFailsWith<PocketTorchException> {
                model.run(tokens = Tensor.Int64(LongArray(length), listOf(1, length)))
            }
            assertEquals(ErrorCode.INPUT_SHAPE, e.errorCode)
            assertTrue("1..6" in (e.message ?: ""), e.message)
        }
    }
    println("dynamic host test passed")
}
