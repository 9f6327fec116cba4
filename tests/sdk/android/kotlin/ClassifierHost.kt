// Host test of the image classifier SDK (image metadata + labels): outputs, every way to load, errors, threads.
package com.test.classifier

import com.test.classifier.pockettorch.ErrorCode
import com.test.classifier.pockettorch.PocketTorchException
import com.test.classifier.pockettorch.Tensor
import com.test.support.readFloats
import com.test.support.writeFloats
import java.io.File
import java.nio.ByteBuffer
import java.util.concurrent.Executors
import java.util.concurrent.TimeUnit
import kotlin.test.assertContentEquals
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertTrue
import kotlinx.coroutines.runBlocking

/** args: model.ptm, input_0.bin, output dir, the same model for 16x16 inputs, a model with other kernels */
public fun main(args: Array<String>) {
    val (modelPath, inputPath, outDir, otherShapes) = args
    val otherKernels = args[4]
    val x = Tensor.Float32(readFloats(inputPath), listOf(1, 3, 8, 8))
    TinyClassifier(File(modelPath), numThreads = 1).use { model ->
        assertEquals(1, model.numThreads)
        val out = model.run(x)
        assertEquals(listOf(1, 5), out.output.shape)
        writeFloats("$outDir/output_0.bin", out.output.data)

        // Labels: top-k is sorted by score and names each class.
        val top = out.topK(3)
        val expected = out.output.data.withIndex().sortedByDescending { it.value }.take(3)
        assertEquals(expected.map { TinyClassifier.LABELS[it.index] }, top.map { it.label })
        assertEquals(expected.map { it.value }, top.map { it.score })

        // A wrong shape is the typed exception with the catalogue's code and hint.
        val e = assertFailsWith<PocketTorchException> { model.run(Tensor.Float32(FloatArray(48), listOf(1, 3, 4, 4))) }
        assertEquals(ErrorCode.INPUT_SHAPE, e.errorCode)
        assertEquals(49, e.code)
        assertTrue("expected [1, 3, 8, 8]" in e.message!!, e.message)
        assertTrue(e.hint.isNotEmpty())

        // Many threads on one instance: serialized runs, identical results.
        val pool = Executors.newFixedThreadPool(4)
        val futures = (0 until 16).map { pool.submit<FloatArray> { model.run(x).output.data } }
        futures.forEach { assertContentEquals(out.output.data, it.get()) }
        pool.shutdown()
        assertTrue(pool.awaitTermination(60, TimeUnit.SECONDS))

        // The coroutine variant gives the same result.
        assertContentEquals(out.output.data, runBlocking { model.runSuspending(x).output.data })
    }

    // From a buffer (what the asset loader does), direct or on the heap, with a non-zero position.
    val bytes = File(modelPath).readBytes()
    val heap = ByteBuffer.allocate(bytes.size + 3).position(3).put(bytes).position(3)
    val direct = ByteBuffer.allocateDirect(bytes.size).put(bytes).flip()
    for (buffer in listOf(heap, direct)) {
        TinyClassifier(buffer, numThreads = 1).use { assertContentEquals(readFloats("$outDir/output_0.bin"), it.run(x).output.data) }
    }

    // Use after close is an IllegalStateException, not a crash.
    val closed = TinyClassifier(File(modelPath))
    closed.close()
    closed.close()
    assertFailsWith<IllegalStateException> { closed.run(x) }

    // Another model's program does not load into this class: other shapes are refused by the class, other ops by the
    // selective build; a file that is no program is BAD_MAGIC.
    val shapes = assertFailsWith<PocketTorchException> { TinyClassifier(File(otherShapes)) }
    assertEquals(ErrorCode.INVALID_ARGUMENT, shapes.errorCode)
    assertTrue("regenerate the SDK" in shapes.message!!, shapes.message)
    assertEquals(ErrorCode.KERNEL_NOT_BUILT, assertFailsWith<PocketTorchException> { TinyClassifier(File(otherKernels)) }.errorCode)
    val junk = File.createTempFile("junk", ".ptm").apply { writeText("not a program ".repeat(400)) }
    assertEquals(ErrorCode.BAD_MAGIC, assertFailsWith<PocketTorchException> { TinyClassifier(File(junk.path)) }.errorCode)
    junk.delete()
    assertEquals(ErrorCode.IO, assertFailsWith<PocketTorchException> { TinyClassifier(File("$outDir/missing.ptm")) }.errorCode)
    println("classifier host test passed")
}
