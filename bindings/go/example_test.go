package kiln_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"kiln.dev/kiln"
)

// Publishing an OCI layout to a registry, with progress and a time limit.
func ExampleCopy() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	res, err := kiln.Copy(ctx, "oci:/tmp/layout:1.0", "127.0.0.1:5000/team/app:1.0",
		kiln.Options{"insecureRegistries": []string{"127.0.0.1:5000"}, "extraTags": []string{"latest"}},
		func(e kiln.Event) error {
			// Runs on kiln's worker threads, one event at a time.
			log.Println(e.Type, e.JSON)
			return nil
		})
	if kiln.IsCode(err, kiln.CodeNotFound) {
		log.Fatal("no such image: ", err)
	} else if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Digest, res.BlobsCopied)
}

// Sending a build context as a gzip'd tar, after reading its version.
func ExampleBuildContext_WriteTarFile() {
	c, err := kiln.OpenContext("/src/app", kiln.Options{"dockerfile": "build/Dockerfile"})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	v, err := c.Version(context.Background(), kiln.Options{"buildArgs": map[string]string{"MODE": "prod"}}, nil)
	if err != nil {
		log.Fatal(err)
	}
	f, err := os.Create("/tmp/" + v.Version + ".tar.gz")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	if err := c.WriteTarFile(context.Background(), f, kiln.Options{"gzip": true}, nil); err != nil {
		log.Fatal(err)
	}
}
