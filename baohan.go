// Package baohan holds the domain of the electronic bid guarantee
// (电子投标保函): the types both sides share, free of I/O. The adapters live
// in sub-packages: gm (国密 crypto), protocol (the 14 interfaces), transport
// (HTTP), store (databases), ofd (documents and seals), platform and
// institution (the two services), web (consoles).
package baohan
