// Host test of a two-input, tuple-output model.
package com.test.multi

import com.test.multi.pockettorch.ErrorCode
import com.test.multi.pockettorch.Model
import com.test.multi.pockettorch.PocketTorchException
import com.test.multi.pockettorch.Tensor
import com.test.support.readFloats
import com.test.support.writeFloats
import java.io.File
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith

/** args: model.ptm, input dir, output dir */
public fun main(args: Array<String>) {
    val (modelPath, inDir, outDir) = args
    val a = Tensor.Float32(readFloats("$inDir/input_0.bin"), listOf(1, 4))
    val b = Tensor.Float32(readFloats("$inDir/input_1.bin"), listOf(1, 4))
    TwoInputs(File(modelPath)).use { model ->
        val out = model.run(a = a, b = b)
        writeFloats("$outDir/output_0.bin", out.output0.data)
        writeFloats("$outDir/output_1.bin", out.output1.data)
    }
    // The untyped layer checks count and dtype at run time (the typed class makes those compile errors).
    Model(File(modelPath)).use { model ->
        assertEquals(listOf("a", "b"), model.inputs.map { it.name })
        assertEquals("two_inputs", model.name)
        val count = assertFailsWith<PocketTorchException> { model.run(listOf(a)) }
        assertEquals(ErrorCode.INPUT_COUNT, count.errorCode)
        val dtype = assertFailsWith<PocketTorchException> { model.run(listOf(a, Tensor.Int64(LongArray(4), listOf(1, 4)))) }
        assertEquals(ErrorCode.INPUT_DTYPE, dtype.errorCode)
    }
    println("multi host test passed")
}
