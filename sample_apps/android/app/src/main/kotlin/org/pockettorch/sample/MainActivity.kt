package org.pockettorch.sample

import android.app.Activity
import android.content.Intent
import android.graphics.Bitmap
import android.graphics.BitmapFactory
import android.net.Uri
import android.os.Bundle
import android.widget.Button
import android.widget.ImageView
import android.widget.LinearLayout
import android.widget.TextView
import java.util.Locale
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.MainScope
import kotlinx.coroutines.cancel
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext
import org.pockettorch.sample.classifier.ImageClassifier
import org.pockettorch.sample.classifier.inputFromBitmap
import org.pockettorch.sample.classifier.pockettorch.PocketTorchException
import org.pockettorch.sample.classifier.pockettorch.topK

/** Pick an image, classify it with the generated MobileNetV2 SDK, show the top-5 classes and the latency. */
public class MainActivity : Activity() {
    private val scope = MainScope()
    private var classifier: ImageClassifier? = null
    private lateinit var pick: Button
    private lateinit var image: ImageView
    private lateinit var result: TextView

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        pick = Button(this)
        pick.setText("Pick an image")
        pick.setEnabled(false)
        pick.setOnClickListener { pickImage() }
        image = ImageView(this)
        result = TextView(this)
        result.setText("Loading the model…")
        val layout = LinearLayout(this)
        layout.setOrientation(LinearLayout.VERTICAL)
        layout.setPadding(32, 32, 32, 32)
        layout.addView(pick)
        layout.addView(image)
        layout.addView(result)
        setContentView(layout)

        scope.launch {
            try {
                classifier = withContext(Dispatchers.IO) { ImageClassifier(this@MainActivity) }
                result.setText("Ready.")
                pick.setEnabled(true)
            } catch (e: PocketTorchException) {
                result.setText("The model did not load: ${e.message}")
            }
        }
    }

    override fun onActivityResult(requestCode: Int, resultCode: Int, data: Intent?) {
        super.onActivityResult(requestCode, resultCode, data)
        val uri = data?.data
        if (requestCode == PICK_IMAGE && resultCode == RESULT_OK && uri != null) classify(uri)
    }

    override fun onDestroy() {
        scope.cancel()
        classifier?.close()
        super.onDestroy()
    }

    private fun pickImage() {
        val intent = Intent(Intent.ACTION_GET_CONTENT).setType("image/*").addCategory(Intent.CATEGORY_OPENABLE)
        startActivityForResult(intent, PICK_IMAGE)
    }

    private fun classify(uri: Uri) {
        val model = classifier ?: return
        scope.launch {
            val bitmap: Bitmap? = withContext(Dispatchers.IO) {
                contentResolver.openInputStream(uri)?.use { BitmapFactory.decodeStream(it) }
            }
            if (bitmap == null) {
                result.setText("That file is not an image this device can decode.")
                return@launch
            }
            image.setImageBitmap(bitmap)
            try {
                val (scores, ms) = withContext(Dispatchers.Default) {
                    val input = ImageClassifier.inputFromBitmap(bitmap)
                    val start = System.nanoTime()
                    val output = model.run(input)
                    output.output.data to (System.nanoTime() - start) / 1e6
                }
                val lines = topK(scores, 5).joinToString("\n") {
                    String.format(Locale.ROOT, "class %d  %.4f", it.index, it.score)
                }
                result.setText(String.format(Locale.ROOT, "%s\n\nlatency %.2f ms", lines, ms))
            } catch (e: PocketTorchException) {
                result.setText("Inference failed: ${e.message}")
            }
        }
    }

    private companion object {
        const val PICK_IMAGE = 1
    }
}
